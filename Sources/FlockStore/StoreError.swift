import Foundation
import GRDB

/// Errors from the store, worded for the operator who reads them in `flockctl` or the daemon's log.
///
/// Each message names the file, pool, version or journal entry involved, and says how to fix the
/// problem where there is a fix. The code is private so that new cases never break callers; tests
/// compare whole errors (`==` ignores where the error was made).
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case cannotCreate, cannotOpen, database, duplicatePool, unknownPool, unknownVersion, unknownInstance
        case unknownIntent, intentFinished, notAResult
    }

    private let code: Code
    public let message: String
    /// Where the error was made, for bug reports; not part of the message or of equality.
    public let file: String
    public let line: Int

    private init(_ code: Code, _ message: String, file: String, line: Int) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { message }

    public static func == (a: StoreError, b: StoreError) -> Bool { a.code == b.code && a.message == b.message }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }

    /// The database file or one of its directories could not be created.
    public static func cannotCreate(
        _ what: String,
        path: String,
        errno code: Int32,
        file: String = #fileID,
        line: Int = #line
    ) -> StoreError {
        StoreError(
            .cannotCreate,
            "cannot create \(what) \(path): \(String(cString: strerror(code))) (choose another file with --db or FLOCK_DB)",
            file: file,
            line: line
        )
    }

    /// SQLite refused to open the file (not a database, unreadable, a newer schema, …).
    public static func cannotOpen(
        path: String,
        _ error: any Error,
        file: String = #fileID,
        line: Int = #line
    ) -> StoreError {
        StoreError(.cannotOpen, "cannot open database \(path): \(Self.reason(error))", file: file, line: line)
    }

    /// A statement failed; the most common cause is another Flock process holding the write lock.
    public static func database(
        path: String,
        _ error: DatabaseError,
        file: String = #fileID,
        line: Int = #line
    ) -> StoreError {
        var message = "database \(path): \(Self.reason(error))"
        if error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            message += " (another flock process held the database for longer than the busy timeout; retry)"
        }
        return StoreError(.database, message, file: file, line: line)
    }

    /// One apply named the same pool twice, so it is unclear which policy should win.
    public static func duplicatePool(_ pool: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(
            .duplicatePool,
            "pool \(pool) appears more than once in one apply; nothing was applied",
            file: file,
            line: line
        )
    }

    /// Pools come into being when their first policy is applied.
    public static func unknownPool(_ pool: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(
            .unknownPool,
            "unknown pool \(pool) (apply a policy for it first)",
            file: file,
            line: line
        )
    }

    /// Lists the versions that do exist, so the operator can pick one without another command.
    public static func unknownVersion(
        pool: String,
        version: Int,
        existing: [Int],
        file: String = #fileID,
        line: Int = #line
    ) -> StoreError {
        let list = existing.isEmpty ? "none" : existing.map(String.init).joined(separator: ", ")
        return StoreError(
            .unknownVersion,
            "pool \(pool) has no policy version \(version) (versions: \(list))",
            file: file,
            line: line
        )
    }

    /// The instance was never recorded (or belongs to another database file).
    public static func unknownInstance(_ name: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(.unknownInstance, "unknown instance \(name)", file: file, line: line)
    }

    /// Results complete intents; the id is missing or names a result.
    public static func unknownIntent(_ id: Int64, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(.unknownIntent, "journal entry \(id) is not an intent", file: file, line: line)
    }

    /// An intent gets exactly one result; a second one means two actors think they own the action.
    public static func intentFinished(
        _ id: Int64,
        phase: String,
        file: String = #fileID,
        line: Int = #line
    ) -> StoreError {
        StoreError(.intentFinished, "journal intent \(id) already has a result (\(phase))", file: file, line: line)
    }

    /// A result says how an intent ended, so it cannot itself be an intent.
    public static func notAResult(_ phase: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(
            .notAResult,
            "a journal result must be done or failed, not \(phase)",
            file: file,
            line: line
        )
    }

    private static func reason(_ error: any Error) -> String {
        guard let error = error as? DatabaseError else { return "\(error)" }
        return error.message ?? "SQLite error \(error.resultCode.rawValue)"
    }
}
