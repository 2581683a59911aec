import FlockCore
import Foundation
import Testing

@Suite struct InstanceStateTests {
    static let created = Date(timeIntervalSince1970: 1_000_000)

    static func clone(in state: InstanceState = .requested) -> Instance {
        Instance(name: "flock-web-1", pool: "web", role: .clone, state: state, createdAt: created)
    }

    @Test func happyPathIsLegalAndStampsEachStep() throws {
        var instance = Self.clone()
        let path: [InstanceState] = [.cloning, .booting, .ready, .registering, .serving, .draining, .stopping, .gone]
        for (step, next) in path.enumerated() {
            let time = Self.created.addingTimeInterval(Double(step + 1))
            try instance.transition(to: next, at: time)
            #expect(instance.state == next)
            #expect(instance.updatedAt == time)
        }
        #expect(instance.createdAt == Self.created)
    }

    @Test(arguments: [
        [InstanceState.cloning, .stopping, .gone],
        [.cloning, .booting, .ready, .stopping, .gone],
        [.cloning, .booting, .ready, .registering, .draining, .stopping, .gone],
        [.failed, .gone],
        [.cloning, .failed, .stopping, .gone],
    ])
    func rollbackPathsAreLegal(path: [InstanceState]) throws {
        var instance = Self.clone()
        for next in path { try instance.transition(to: next, at: Self.created) }
        #expect(instance.state == .gone)
    }

    @Test func aStandbyActivatesOrIsDiscardedWithoutADrain() throws {
        var activated = Self.clone(in: .standby)
        for next in [InstanceState.booting, .ready, .registering, .serving] {
            try activated.transition(to: next, at: Self.created)
        }
        var discarded = Self.clone(in: .standby)
        for next in [InstanceState.stopping, .gone] { try discarded.transition(to: next, at: Self.created) }
        #expect(activated.state == .serving && discarded.state == .gone)
    }

    @Test(arguments: InstanceState.allCases.filter { $0 != .gone && $0 != .failed })
    func failedIsReachableFrom(state: InstanceState) throws {
        var instance = Self.clone(in: state)
        let time = Self.created.addingTimeInterval(9)
        try instance.transition(to: .failed, at: time, failure: "guest agent timed out")
        #expect(instance.state == .failed)
        #expect(instance.failure == "guest agent timed out")
        #expect(instance.updatedAt == time)
    }

    @Test func failureIsKeptOnTheWayOut() throws {
        var instance = Self.clone(in: .booting)
        try instance.transition(to: .failed, at: Self.created, failure: "kernel panic")
        try instance.transition(to: .stopping, at: Self.created)
        #expect(instance.failure == "kernel panic")
    }

    static let illegal: [(InstanceState, InstanceState)] =
        [
            (.serving, .cloning), (.requested, .serving), (.draining, .serving), (.requested, .booting),
            (.booting, .serving), (.ready, .serving), (.serving, .stopping), (.serving, .requested),
            (.stopping, .serving), (.failed, .serving), (.requested, .requested), (.standby, .serving),
            (.standby, .draining), (.serving, .standby), (.cloning, .standby),
        ] + InstanceState.allCases.map { (.gone, $0) }

    @Test(arguments: illegal)
    func illegalTransitionThrowsAndChangesNothing(from: InstanceState, to: InstanceState) {
        var instance = Self.clone(in: from)
        let before = instance
        #expect(!from.canTransition(to: to))
        #expect(throws: FlockError.self) {
            try instance.transition(to: to, at: Self.created.addingTimeInterval(60), failure: "x")
        }
        #expect(instance == before)
        #expect(instance.state == from)
        #expect(instance.updatedAt == Self.created)
    }

    @Test func illegalTransitionErrorNamesBothStates() {
        var instance = Self.clone(in: .serving)
        do {
            try instance.transition(to: .cloning, at: Self.created)
            Issue.record("serving → cloning was accepted")
        } catch {
            #expect(error.description.contains("flock-web-1"))
            #expect(error.description.contains("serving"))
            #expect(error.description.contains("cloning"))
        }
    }

    @Test func warmingServingAndLeavingPartitionTheLiveStates() {
        // A standby is none of the three: it never counts as capacity, coming or going.
        for state in InstanceState.allCases {
            let flags = [state.isWarming, state.isServing, state.isLeaving].filter { $0 }.count
            #expect(flags == ([.gone, .failed, .standby].contains(state) ? 0 : 1), "\(state)")
        }
        #expect(InstanceState.registering.isWarming)
        #expect(InstanceState.requested.isWarming)
    }
}

@Suite struct OwnedNameTests {
    @Test func makeUsesThePrefixAndPool() {
        #expect(OwnedName.make(pool: "web", suffix: "1") == "flock-web-1")
        #expect(OwnedName.isOwned(OwnedName.make(pool: "api", suffix: "a7f3"), pool: "api"))
    }

    @Test(arguments: [
        ("flock-web-1", "web", true),
        ("flock-web-abc123", "web", true),
        ("flock-web2-1", "web", false),
        ("web-1", "web", false),
        ("flock-web-", "web", false),
        ("flock-web", "web", false),
        ("flock-api-1", "web", false),
        ("xflock-web-1", "web", false),
        ("Flock-web-1", "web", false),
        // Pool names may contain '-': a clone of pool "web-a" must not count as pool "web"'s.
        ("flock-web-a-1", "web", false),
        ("flock-web-a-1", "web-a", true),
        ("flock-web-A1", "web", false),
    ])
    func ownership(name: String, pool: String, owned: Bool) {
        #expect(OwnedName.isOwned(name, pool: pool) == owned)
    }
}

@Suite struct PoolNameTests {
    @Test(arguments: ["web", "a", "web-2", "api0", String(repeating: "a", count: 63)])
    func validNames(name: String) {
        #expect(Pool.isValidName(name))
    }

    @Test(arguments: ["", "Web", "web_1", "web.1", "web 1", "wéb", "web/1", String(repeating: "a", count: 64)])
    func invalidNames(name: String) {
        #expect(!Pool.isValidName(name))
    }
}
