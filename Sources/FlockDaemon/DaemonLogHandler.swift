import FlockCore
import Foundation
import Logging
import Synchronization

/// flockd's log lines on standard error, as text for a terminal or JSON for a log pipeline.
///
/// systemd's journal adds its own timestamp, but a line piped elsewhere needs one, so every line
/// starts with an ISO 8601 time. Text lines read `TIME LEVEL label: message key=value …`; JSON
/// lines are one object each with `time`, `level`, `label`, `message` and the metadata. Control
/// characters in the message and the metadata are escaped (`\u001b`) in both formats: they may
/// quote guest-written text, and a raw one could forge a line or drive the reader's terminal.
public struct DaemonLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let format: DaemonConfig.LogSettings.Format
    let sink: LogSink

    public init(
        label: String, format: DaemonConfig.LogSettings.Format, level: Logger.Level, sink: LogSink = .standardError
    ) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let time = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let message = "\(event.message)".escapingControlCharacters
        let values = all.mapValues { "\($0)".escapingControlCharacters }
        let line: String
        switch format {
        case .text:
            let pairs = values.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.quoted($0.value))" }
            line = ([time, event.level.rawValue, "\(label):", message] + pairs).joined(separator: " ")
        case .json:
            var object = values
            object["time"] = time
            object["level"] = event.level.rawValue
            object["label"] = label
            object["message"] = message
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        }
        sink.write(line + "\n")
    }

    /// Values with spaces or quotes are quoted so that `key=value` pairs stay parseable.
    static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            + "\""
    }
}

/// Where log lines go; one lock so that lines from concurrent tasks never interleave.
public final class LogSink: Sendable {
    private let output: @Sendable (String) -> Void
    private let lock = Mutex(())

    public init(_ output: @escaping @Sendable (String) -> Void) {
        self.output = output
    }

    public static let standardError = LogSink { FileHandle.standardError.write(Data($0.utf8)) }

    func write(_ text: String) {
        lock.withLock { _ in output(text) }
    }
}
