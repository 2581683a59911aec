import ArgumentParser
import FlockCLI
import FlockStore
import Foundation

/// Where the SQLite store lives: `--db`, else `$FLOCK_DB`, else the per-user or system default.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Path of the SQLite store.", valueName: "path"))
    var db: String?

    var path: String {
        db
            ?? FlockStore.defaultPath(
                environment: ProcessInfo.processInfo.environment, isRoot: getuid() == 0,
                home: FileManager.default.homeDirectoryForCurrentUser.path
            )
    }

    /// Opens the store for reading, or returns `nil` if it does not exist yet: a query never
    /// creates a database as a side effect.
    func openExisting() throws -> FlockStore? {
        FileManager.default.fileExists(atPath: path) ? try open() : nil
    }

    /// Opens the store, creating it if needed.
    func open() throws -> FlockStore {
        do {
            return try FlockStore(path: path)
        } catch {
            throw CLIFailure("error: \(error)")
        }
    }
}
