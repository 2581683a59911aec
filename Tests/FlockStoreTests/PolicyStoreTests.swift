import FlockCore
import FlockTestSupport
import Foundation
import GRDB
import Testing

@testable import FlockStore

@Suite struct PolicyStoreTests {
    @Test func applyCreatesVersionsAndPools() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        let first = try store.applyPolicies([change("web", "a"), change("api", "x")], by: "ana", at: t0)
        #expect(first.map(\.version) == [1, 1])
        #expect(
            first[0]
                == PolicyVersion(
                    pool: "web",
                    version: 1,
                    backend: "be_web",
                    source: "a",
                    checksum: "sum:a",
                    appliedAt: t0,
                    appliedBy: "ana"
                )
        )

        let second = try store.applyPolicies(
            [change("web", "b", backend: "be_new"), change("api", "x")],
            by: "bo",
            at: at(60)
        )
        #expect(second.map { "\($0.pool)@\($0.version)" } == ["web@2"])
        #expect(try store.currentPolicy(pool: "web")?.source == "b")
        #expect(try store.policyVersion(pool: "web", version: 1)?.source == "a")
        #expect(try store.policyHistory(pool: "web").map(\.version) == [1, 2])
        #expect(
            try store.pools() == [
                Pool(name: "api", backend: "be_api", policyVersion: 1),
                Pool(name: "web", backend: "be_new", policyVersion: 2),
            ]
        )
        #expect(try store.currentPolicy(pool: "nope") == nil)
    }

    @Test func identicalReapplyCreatesNothing() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        try store.applyPolicies([change("web", "a")], by: "ana", at: t0)
        #expect(try store.applyPolicies([change("web", "a")], by: "ana", at: at(1)).isEmpty)
        #expect(try store.policyHistory(pool: "web").count == 1)
    }

    @Test func duplicatePoolStoresNothing() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        try store.applyPolicies([change("web", "a")], by: "ana", at: t0)
        #expect(throws: StoreError.duplicatePool("api")) {
            try store.applyPolicies([change("web", "b"), change("api", "x"), change("api", "y")], by: "ana", at: at(1))
        }
        #expect(try store.pools().map(\.name) == ["web"])
        #expect(try store.currentPolicy(pool: "web")?.version == 1)
    }

    /// A failure inside the transaction (here forced by a trigger) undoes the changes before it.
    @Test func failedApplyRollsBackEarlierChanges() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        try store.writer.write { db in
            try db.execute(
                sql: """
                    CREATE TRIGGER boom BEFORE INSERT ON policyVersion WHEN NEW.pool = 'bad'
                    BEGIN SELECT RAISE(ABORT, 'refused'); END
                    """
            )
        }
        let error = try #require(throws: StoreError.self) {
            try store.applyPolicies([change("web", "a"), change("bad", "b")], by: "ana", at: t0)
        }
        #expect(error.description.contains(store.path))
        #expect(try store.pools().isEmpty)
        #expect(try store.policyHistory(pool: "web").isEmpty)
    }

    @Test func rollbackAddsAVersionWithTheOldText() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        try store.applyPolicies([change("web", "a")], by: "ana", at: t0)
        try store.applyPolicies([change("web", "b", backend: "be_b")], by: "ana", at: at(1))

        let restored = try #require(try store.rollback(pool: "web", to: 1, by: "bo", at: at(2)))
        #expect(
            restored
                == PolicyVersion(
                    pool: "web",
                    version: 3,
                    backend: "be_web",
                    source: "a",
                    checksum: "sum:a",
                    appliedAt: at(2),
                    appliedBy: "bo",
                    note: "rollback to version 1"
                )
        )
        #expect(try store.currentPolicy(pool: "web") == restored)
        #expect(try store.pools().first?.backend == "be_web")
        #expect(try store.rollback(pool: "web", to: 1, by: "bo", at: at(3)) == nil)
        #expect(try store.policyHistory(pool: "web").count == 3)
    }

    @Test func rollbackErrorsNameWhatExists() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        try store.applyPolicies([change("web", "a")], by: "ana", at: t0)
        try store.applyPolicies([change("web", "b")], by: "ana", at: at(1))
        let error = try #require(throws: StoreError.self) {
            try store.rollback(pool: "web", to: 9, by: "bo", at: at(2))
        }
        #expect(error == .unknownVersion(pool: "web", version: 9, existing: [1, 2]))
        #expect(error.description == "pool web has no policy version 9 (versions: 1, 2)")
        #expect(throws: StoreError.unknownPool("api")) { try store.rollback(pool: "api", to: 1, by: "bo", at: at(2)) }
    }

    @Test func pauseAndManualDesired() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        try store.applyPolicies([change("web", "a")], by: "ana", at: t0)
        try store.setPaused(pool: "web", true)
        try store.setManualDesired(pool: "web", 4)
        #expect(
            try store.pools() == [
                Pool(name: "web", backend: "be_web", paused: true, manualDesired: 4, policyVersion: 1)
            ]
        )
        try store.setManualDesired(pool: "web", nil)
        try store.setPaused(pool: "web", false)
        #expect(try store.pools().first == Pool(name: "web", backend: "be_web", policyVersion: 1))
        #expect(throws: StoreError.unknownPool("api")) { try store.setPaused(pool: "api", true) }
        #expect(throws: StoreError.unknownPool("api")) { try store.setManualDesired(pool: "api", 2) }
    }
}
