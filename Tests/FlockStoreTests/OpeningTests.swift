import FlockCore
import FlockTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

@testable import FlockStore

@Suite struct OpeningTests {
    private func mode(_ path: String) throws -> mode_t {
        var info = stat()
        try #require(stat(path, &info) == 0, "stat \(path)")
        return info.st_mode & 0o777
    }

    @Test func createsOwnerOnlyDirectoriesAndFiles() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store("a/b/flock.db")
        try store.record(Event(time: t0, pool: nil, kind: .instance, message: "make the WAL exist"))

        #expect(try mode(scratch.path("a")) == 0o700)
        #expect(try mode(scratch.path("a/b")) == 0o700)
        for file in ["flock.db", "flock.db-wal", "flock.db-shm"] {
            #expect(try mode(scratch.path("a/b/\(file)")) == 0o600, "\(file)")
        }
    }

    @Test func usesWALWithForeignKeys() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        let (journal, foreignKeys) = try store.writer.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Bool.fetchOne(db, sql: "PRAGMA foreign_keys"))
        }
        #expect(journal == "wal")
        #expect(foreignKeys == true)
    }

    @Test func reportsThePathWhenTheDirectoryCannotBeMade() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        try #require(FileManager.default.createFile(atPath: scratch.path("file"), contents: Data()))
        let error = try #require(throws: StoreError.self) { try scratch.store("file/flock.db") }
        #expect(error.description.contains(scratch.path("file")))
        #expect(error.description.contains("--db"))
    }

    @Test func reportsThePathWhenTheFileIsNotADatabase() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let path = scratch.path("junk.db")
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: StoreError.self) { try FlockStore(path: path) }
        #expect(error.description.hasPrefix("cannot open database \(path)"))
    }

    /// The daemon and the CLI hold the same file open and both write.
    @Test func twoStoresShareOneFile() async throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let daemon = try scratch.store()
        let cli = try scratch.store()
        try cli.applyPolicies([change("web", "v: 1")], by: "ops", at: t0)
        #expect(try daemon.currentPolicy(pool: "web")?.source == "v: 1")

        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, store) in [("daemon", daemon), ("cli", cli)] {
                group.addTask {
                    for i in 0..<50 {
                        try store.journalIntent(
                            pool: "web",
                            instance: nil,
                            action: name,
                            detail: "\(i)",
                            at: at(Double(i))
                        )
                    }
                }
            }
            try await group.waitForAll()
        }
        let seenByCLI = try cli.journal(pool: "web", limit: 1000)
        #expect(seenByCLI.count == 100)
        #expect(Set(seenByCLI.map(\.action)) == ["daemon", "cli"])
        #expect(try daemon.openIntents(pool: "web").count == 100)
    }

    /// The daemon and the CLI may open a brand-new file at the same moment; both must succeed.
    /// (Both switching it to WAL and both migrating it are races SQLite does not wait out by itself.)
    @Test func concurrentFirstOpensAllSucceed() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        for round in 0..<10 {
            let path = scratch.path("fresh\(round)/flock.db")
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                do { _ = try FlockStore(path: path) } catch { failures.withLock { $0.append("\(error)") } }
            }
            #expect(failures.withLock { $0 } == [])
        }
    }

    @Test func defaultPathRules() {
        let home = "/home/ana"
        #expect(FlockStore.defaultPath(environment: ["FLOCK_DB": "/tmp/x.db"], isRoot: true, home: home) == "/tmp/x.db")
        #expect(
            FlockStore.defaultPath(environment: ["FLOCK_DB": ""], isRoot: true, home: home) == "/var/lib/flock/flock.db"
        )
        #expect(
            FlockStore.defaultPath(environment: [:], isRoot: false, home: home)
                == "/home/ana/.local/share/flock/flock.db"
        )
    }
}
