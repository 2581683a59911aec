import FlockCore
import FlockTestSupport
import Foundation
import Testing

@testable import FlockStore

@Suite struct InstanceStoreTests {
    private func clone(_ suffix: String, pool: String = "web") -> Instance {
        Instance(
            name: OwnedName.make(pool: pool, suffix: suffix),
            pool: pool,
            role: .clone,
            lineage: .init(parent: "web-parent", snapshot: "/run/flock/web-1.mem", generation: 3, mode: .lazy),
            address: "10.0.0.7",
            port: 8080,
            mac: "52:54:00:12:34:56",
            createdAt: t0
        )
    }

    @Test func upsertRoundTripsEveryField() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        var parent = Instance(name: "web-parent", pool: "web", role: .parent, state: .serving, createdAt: at(-10))
        try store.upsert(parent)
        try store.upsert(clone("a"))
        try store.upsert(clone("b", pool: "api"))
        #expect(try store.instances(pool: "web") == [parent, clone("a")])
        #expect(try store.instances(pool: nil).count == 3)

        parent.address = "10.0.0.2"
        try store.upsert(parent)
        #expect(try store.instances(pool: "web").first?.address == "10.0.0.2")
    }

    @Test func oneInstanceIsFoundByNameWhateverItsState() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        try store.upsert(clone("a"))
        #expect(try store.instance(named: clone("a").name) == clone("a"))
        #expect(try store.instance(named: "flock-web-zz") == nil)
        try store.transition(instance: clone("a").name, to: .stopping, at: at(1))
        try store.transition(instance: clone("a").name, to: .gone, at: at(2))
        #expect(try store.instance(named: clone("a").name)?.state == .gone)
    }

    @Test func transitionsAreRecorded() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        try store.upsert(clone("a"))
        try store.transition(instance: "flock-web-a", to: .cloning, at: at(1))
        let moved = try store.transition(instance: "flock-web-a", to: .failed, at: at(2), note: "qmp timed out")
        #expect(moved.state == .failed && moved.failure == "qmp timed out" && moved.updatedAt == at(2))
        #expect(try store.instances(pool: "web") == [moved])
        #expect(
            try store.stateHistory(instance: "flock-web-a") == [
                StateChange(from: .requested, to: .cloning, time: at(1)),
                StateChange(from: .cloning, to: .failed, time: at(2), note: "qmp timed out"),
            ]
        )
    }

    @Test func illegalTransitionChangesNothing() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        try store.upsert(clone("a"))
        #expect(throws: FlockError.illegalTransition(instance: "flock-web-a", from: .requested, to: .serving)) {
            try store.transition(instance: "flock-web-a", to: .serving, at: at(1))
        }
        #expect(try store.instances(pool: "web") == [clone("a")])
        #expect(try store.stateHistory(instance: "flock-web-a").isEmpty)
        #expect(throws: StoreError.unknownInstance("flock-web-zz")) {
            try store.transition(instance: "flock-web-zz", to: .cloning, at: at(1))
        }
    }

    @Test func goneInstancesAreHiddenUnlessAsked() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        var gone = clone("a")
        gone.state = .gone
        try store.upsert(gone)
        try store.upsert(clone("b"))
        #expect(try store.instances(pool: "web").map(\.name) == ["flock-web-b"])
        #expect(try store.instances(pool: "web", includeGone: true).map(\.name) == ["flock-web-a", "flock-web-b"])
    }
}
