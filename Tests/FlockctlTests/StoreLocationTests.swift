import FlockTestSupport
import Foundation
import Testing

@Suite("where flockctl keeps its store")
struct StoreLocationTests {
    private func permissions(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test("a store created by flockctl is 0600 in directories of 0700")
    func ownerOnly() async throws {
        let sandbox = try Scratch()
        let outer = sandbox.path("state")
        let inner = sandbox.path("state/flock")
        let db = sandbox.path("state/flock/flock.db")
        let result = try await sandbox.run(["policy", "apply", "--db", db, Repo.policy("web")])
        #expect(result.status == 0, "\(result)")
        let modes = (db: try permissions(db), inner: try permissions(inner), outer: try permissions(outer))
        #expect(modes.db == 0o600, "db mode \(String(modes.db, radix: 8))")
        #expect(modes.inner == 0o700, "dir mode \(String(modes.inner, radix: 8))")
        #expect(modes.outer == 0o700, "dir mode \(String(modes.outer, radix: 8))")
        // SQLite's companions must not be readable by others either.
        let names = try FileManager.default.contentsOfDirectory(atPath: inner)
        for name in names where name.hasPrefix("flock.db") {
            let mode = try permissions("\(inner)/\(name)")
            #expect(mode & 0o077 == 0, "\(name) has mode \(String(mode, radix: 8))")
        }
    }

    @Test("an existing directory keeps the mode the operator gave it")
    func existingDirectoryUntouched() async throws {
        let sandbox = try Scratch()
        let dir = sandbox.path("shared")
        try FileManager.default.createDirectory(
            atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let result = try await sandbox.run(["policy", "apply", "--db", "\(dir)/flock.db", Repo.policy("web")])
        #expect(result.status == 0, "\(result)")
        #expect(try permissions(dir) == 0o755)
        #expect(try permissions("\(dir)/flock.db") == 0o600)
    }

    @Test("--db wins over $FLOCK_DB")
    func dbFlagWins() async throws {
        let sandbox = try Scratch()
        let envDB = sandbox.path("from-env/flock.db")
        let result = try await sandbox.run(
            ["policy", "apply", "--db", sandbox.db, Repo.policy("web")], environment: ["FLOCK_DB": envDB])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.last == "applied web v1 to \(sandbox.db)", "\(result)")
        #expect(FileManager.default.fileExists(atPath: sandbox.db))
        #expect(!FileManager.default.fileExists(atPath: envDB), "flockctl wrote to $FLOCK_DB although --db was given")
        #expect(tableRows(try await sandbox.list().stdout).first?.first == "web")
    }

    @Test("$FLOCK_DB is used when --db is absent")
    func environmentDB() async throws {
        let sandbox = try Scratch()
        let envDB = sandbox.path("from-env/nested/flock.db")
        let apply = try await sandbox.run(["policy", "apply", Repo.policy("web")], environment: ["FLOCK_DB": envDB])
        #expect(apply.status == 0, "\(apply)")
        #expect(apply.stdoutLines.last == "applied web v1 to \(envDB)", "\(apply)")
        #expect(FileManager.default.fileExists(atPath: envDB))
        #expect(!FileManager.default.fileExists(atPath: sandbox.db))

        // Read back through the environment too, and through --db at the same path.
        let viaEnv = try await sandbox.run(["policy", "history", "web"], environment: ["FLOCK_DB": envDB])
        #expect(viaEnv.status == 0, "\(viaEnv)")
        #expect(tableRows(viaEnv.stdout).count == 1, "\(viaEnv)")
        let viaFlag = try await sandbox.run(["policy", "list", "--db", envDB])
        #expect(tableRows(viaFlag.stdout).first?.prefix(3) == ["web", "app", "1"], "\(viaFlag)")
    }

    @Test("a store whose directory cannot be created is an operational error naming it")
    func uncreatableDirectory() async throws {
        let sandbox = try Scratch()
        let blocker = try sandbox.write("blocker", "a file, not a directory\n")
        let db = "\(blocker)/sub/flock.db"
        let result = try await sandbox.run(["policy", "apply", "--db", db, Repo.policy("web")])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains(blocker), "\(result)")
        #expect(result.stderr.hasPrefix("error: "), "\(result)")
    }

    @Test("queries never create the store")
    func queriesDoNotCreateTheStore() async throws {
        let sandbox = try Scratch()
        let db = sandbox.path("absent/flock.db")
        let list = try await sandbox.run(["policy", "list", "--db", db])
        #expect(list.status == 0 && list.stdout.hasPrefix("no pools"), "\(list)")
        let show = try await sandbox.run(["policy", "show", "--db", db, "web"])
        #expect(show.status == 1 && show.stderr.contains("flockctl policy list"), "\(show)")
        let dryRun = try await sandbox.run(["policy", "apply", "--dry-run", "--db", db, Repo.policy("web")])
        #expect(dryRun.status == 0 && dryRun.stdout.contains("nothing was stored"), "\(dryRun)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.path("absent")))
    }
}
