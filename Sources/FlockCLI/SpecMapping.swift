import Foundation
import Yams

/// A VM spec file's top-level YAML mapping, read key by key with every problem collected, so
/// `flockctl vm start` reports them all at once as `FILE: error: …`. Relative paths are taken
/// from the spec file's directory, so a spec works from anywhere.
public struct SpecMapping {
    public let path: String
    public let map: [String: Any]
    private(set) var problems: [String] = []
    private let base: URL

    /// Reads `path`; unknown keys (not in `keys`) are the first problems.
    public init(path: String, keys: Set<String>) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CLIFailure("error: \(path): cannot read the VM spec")
        }
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw CLIFailure("error: \(path): not valid YAML: \(error)")
        }
        guard let map = root as? [String: Any] else { throw CLIFailure("error: \(path): a VM spec is a YAML mapping") }
        self.path = path
        self.map = map
        base = URL(fileURLWithPath: path).deletingLastPathComponent()
        for key in map.keys.sorted() where !keys.contains(key) {
            problems.append("unknown key '\(key)' (known: \(keys.sorted().joined(separator: ", ")))")
        }
    }

    public mutating func problem(_ text: String) { problems.append(text) }

    public mutating func string(_ key: String) -> String? {
        guard let value = map[key] else { return nil }
        if let text = value as? String { return text }
        problems.append("'\(key)' must be a string")
        return nil
    }

    /// `key`, which must be present.
    public mutating func required(_ key: String) -> String {
        if map[key] == nil { problems.append("'\(key)' is required") }
        return string(key) ?? ""
    }

    public mutating func int(_ key: String, _ fallback: Int) -> Int {
        guard let value = map[key] else { return fallback }
        if let number = value as? Int { return number }
        problems.append("'\(key)' must be a whole number")
        return fallback
    }

    /// A path, absolute or relative to the spec file's directory.
    public mutating func file(_ key: String) -> String? {
        string(key).map { $0.hasPrefix("/") ? $0 : base.appendingPathComponent($0).standardizedFileURL.path }
    }

    /// Throws every problem collected plus `more`, one `FILE: error: …` line each.
    public func finish(_ more: [String] = []) throws {
        let all = problems + more
        guard all.isEmpty else { throw CLIFailure(all.map { "\(path): error: \($0)" }.joined(separator: "\n")) }
    }
}
