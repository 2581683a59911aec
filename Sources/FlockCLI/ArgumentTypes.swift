import ArgumentParser
import FlockCore
import FlockQEMU
import Foundation

/// A duration option, `500ms`, `2s`, `1m` or `1h` as in policies, kept with the text the
/// operator typed: messages and JSON echo an option back as it was written.
public struct DurationArgument: ExpressibleByArgument, Sendable {
    public let duration: Duration
    public let text: String

    public init?(argument: String) {
        guard let duration = Duration(flockText: argument) else { return nil }
        self.duration = duration
        text = argument
    }

    /// A default, shown in `--help` in the same syntax.
    public init(_ duration: Duration) {
        self.duration = duration
        text = duration.flockText
    }

    public var defaultValueDescription: String { text }
}

/// `--modes cold,eager,lazy`: the modes in the order given, each once; an unknown word (or no
/// word) rejects the whole list. Generic so that a command with modes of its own (the clone
/// bench's `standby`) parses them alike.
public struct ModeList<Mode>: ExpressibleByArgument, Sendable
where Mode: RawRepresentable<String> & Hashable & Sendable {
    public let modes: [Mode]

    public init?(argument: String) {
        var modes: [Mode] = []
        for word in argument.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            guard let mode = Mode(rawValue: word) else { return nil }
            if !modes.contains(mode) { modes.append(mode) }
        }
        guard !modes.isEmpty else { return nil }
        self.modes = modes
    }

    public init(_ modes: [Mode]) { self.modes = modes }

    public var defaultValueDescription: String { modes.map(\.rawValue).joined(separator: ",") }
}

/// The clone modes of the core, as `--modes` lists them.
public typealias CloneModes = ModeList<CloneMode>

extension CloneMode: ExpressibleByArgument {}
extension LazyFreeze: ExpressibleByArgument {}
extension Accelerator: ExpressibleByArgument {}
extension NetworkSpec.Mode: ExpressibleByArgument {}

/// What a value must look like, by the value name an option's help shows (`<duration>`):
/// when `init?(argument:)` fails, ArgumentParser's message names the option but not the form.
/// Enums need no entry: ArgumentParser lists their values itself.
enum ArgumentForm {
    static let forms = [
        "duration": "write a whole number with ms, s, m or h, e.g. 500ms, 2s or 1m",
        "modes": "write one or more of cold, eager, lazy, comma-separated",
        "host:port": "write an IP address and port, e.g. 10.0.0.7:8080 (IPv6 as [::1]:8080)",
    ]

    static func explained(_ message: String) -> String {
        for (name, form) in forms where message.hasSuffix("<\(name)>'") { return "\(message): \(form)" }
        return message
    }
}
