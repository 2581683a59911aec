import FlockCore
import Logging

/// A `LogHandler` that hands each message's text, nothing else, to a closure: for callers that
/// show the driver's progress as their own plain lines (flockctl's VM commands and benches, the
/// demo's view) rather than as log records. Control characters are escaped (`\u001b`): messages
/// can carry guest-written text, such as a console tail, which must not drive the terminal.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void

    public init(_ write: @escaping @Sendable (String) -> Void) { self.write = write }

    /// A logger whose messages at `.info` and above go to `write`.
    public static func logger(label: String, _ write: @escaping @Sendable (String) -> Void) -> Logger {
        Logger(label: label) { _ in LineLogHandler(write) }
    }

    public func log(event: LogEvent) { write(event.message.description.escapingControlCharacters) }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}
