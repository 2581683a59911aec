import Foundation
import GRDB
import Synchronization

/// Flock's durable state: pools, policy versions, instances, the action journal, events,
/// decisions and metric samples, in one SQLite file.
///
/// The daemon and `flockctl` open the same file at the same time, so the store uses WAL (readers
/// never block the writer) and a busy timeout (a second writer waits instead of failing). Every
/// method is one transaction, so a crash leaves either all or none of a change. GRDB is
/// synchronous and serializes writes itself, which keeps this type a plain `Sendable` class.
public final class FlockStore: Sendable {
    /// The database file; errors name it so the operator knows which file is involved.
    public let path: String
    let writer: any DatabaseWriter
    /// Samples older than this, measured from the newest sample written, are deleted as new ones
    /// arrive; see `append(samples:)`.
    public let sampleRetention: Duration
    /// How long decisions, events and closed journal entries are kept; pruned with the samples.
    public let historyRetention: HistoryRetention
    /// When retention last ran, so that it runs about once a minute rather than on every write.
    let lastPrune = Mutex<Date?>(nil)

    /// How long a write waits for another process's write to finish before failing.
    public static let busyTimeout: TimeInterval = 5

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// A missing parent directory is created with mode 0700 and a missing file with mode 0600.
    /// - Parameters:
    ///   - sampleRetention: how long metric samples are kept (default 24 h).
    ///   - historyRetention: how long decisions, events and closed journal entries are kept (7 d).
    public init(
        path: String, sampleRetention: Duration = FlockStore.defaultSampleRetention,
        historyRetention: HistoryRetention = HistoryRetention()
    ) throws {
        self.path = path
        self.sampleRetention = sampleRetention
        self.historyRetention = historyRetention
        try DatabaseFile.prepare(path: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.foreignKeysEnabled = true
        do {
            writer = try Self.openPool(path: path, configuration: configuration)
        } catch {
            throw StoreError.cannotOpen(path: path, error)
        }
        try Self.migrate(writer, path: path)
    }

    /// Brings the schema up to date. The daemon and the CLI may start together on a new or older
    /// file: the loser of that race fails on a table or index the winner just made, while the
    /// winner may still be applying later migrations, so it tries again until every migration is
    /// done or the busy timeout has passed.
    private static func migrate(_ writer: any DatabaseWriter, path: String) throws {
        let deadline = ContinuousClock.now + .seconds(busyTimeout)
        while true {
            do {
                try Schema.migrator.migrate(writer)
                return
            } catch {
                if (try? writer.read { try Schema.migrator.hasCompletedMigrations($0) }) == true { return }
                // Only what a race can cause is worth waiting for; a file that is not a database fails at once.
                let code = (error as? DatabaseError)?.resultCode
                let racing = code.map { [ResultCode.SQLITE_ERROR, .SQLITE_BUSY, .SQLITE_LOCKED].contains($0) } ?? false
                guard racing, ContinuousClock.now < deadline else { throw StoreError.cannotOpen(path: path, error) }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
    }

    /// Opens the pool, retrying while another process switches a new file to WAL: SQLite reports
    /// that as "database is locked" at once instead of waiting out the busy timeout.
    private static func openPool(path: String, configuration: Configuration) throws -> DatabasePool {
        let deadline = ContinuousClock.now + .seconds(busyTimeout)
        while true {
            do {
                return try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                guard ContinuousClock.now < deadline else { throw error }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
    }

    /// Where the database lives when `--db` is not given: `$FLOCK_DB`, else the system location for
    /// root (the daemon), else the user's XDG data directory (a developer running `flockctl`).
    ///
    /// Takes its inputs as arguments so the rule is tested without touching the real environment.
    public static func defaultPath(environment: [String: String], isRoot: Bool, home: String) -> String {
        if let path = environment["FLOCK_DB"], !path.isEmpty { return path }
        if isRoot { return "/var/lib/flock/flock.db" }
        return "\(home)/.local/share/flock/flock.db"
    }

    /// The lock file the daemon holds for as long as it runs on the store at `path`: beside the
    /// database, so that two configs naming one store meet at one lock.
    public static func lockPath(for path: String) -> String { "\(path).lock" }

    /// Creates the store's directory (mode 0700) without touching the database, so that the daemon
    /// can take its lock before anything opens the store.
    public static func prepareDirectory(for path: String) throws { try DatabaseFile.prepareDirectory(of: path) }

    /// Runs `body` in one write transaction; SQLite errors become `StoreError`s that name the file.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.write(body)
        } catch let error as DatabaseError {
            throw StoreError.database(path: path, error)
        }
    }

    /// Runs `body` on a consistent snapshot; SQLite errors become `StoreError`s that name the file.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.read(body)
        } catch let error as DatabaseError {
            throw StoreError.database(path: path, error)
        }
    }
}
