import FlockCore
import FlockTestSupport
import Foundation
import Testing

@testable import FlockStore

@Suite struct EventAndDecisionTests {
    @Test func eventsAfterAnId() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        let events = (0..<5).map { i in
            Event(
                time: at(Double(i)),
                pool: i == 4 ? nil : (i % 2 == 0 ? "web" : "api"),
                kind: .decision,
                message: "e\(i)"
            )
        }
        let ids = try events.map { try store.record($0) }
        #expect(try store.events(pool: nil, since: nil, limit: 100) == zip(ids, events).map(RecordedEvent.init))
        #expect(try store.events(pool: nil, since: ids[1], limit: 100).map(\.event.message) == ["e2", "e3", "e4"])
        #expect(try store.events(pool: nil, since: ids[1], limit: 2).map(\.id) == [ids[2], ids[3]])
        #expect(try store.events(pool: "web", since: nil, limit: 100).map(\.event.message) == ["e0", "e2"])
    }

    @Test func eventMessagesAreStoredWithControlCharactersEscaped() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        let id = try store.record(
            Event(time: t0, pool: "web", kind: .failure, message: "clone failed: \u{1B}[2J\u{1B}[H\u{0}\u{7}tail"))
        let stored = try #require(try store.events(pool: "web", since: nil, limit: 10).first)
        #expect(stored.id == id)
        #expect(stored.event.message == "clone failed: \\u001b[2J\\u001b[H\\u0000\\u0007tail")
        #expect(try store.recentEvents(pool: nil, limit: 1).first?.event.message == stored.event.message)
    }

    @Test func rawRowsFromAnOlderStoreAreEscapedOnTheWayOut() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        try store.write { db in
            try EventRecord(id: nil, time: Date(), pool: "web", kind: .failure, message: "raw \u{1B}[2J").insert(db)
        }
        #expect(try store.events(pool: "web", since: nil, limit: 1).first?.event.message == "raw \\u001b[2J")
        #expect(try store.recentEvents(pool: "web", limit: 1).first?.event.message == "raw \\u001b[2J")
    }

    @Test func decisionsRoundTripExactly() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        let votes = [
            CheckVote(
                check: "cpu",
                metric: .sessionsPerServer,
                value: 41.123456789,
                kind: .scaleOut,
                desired: 5,
                breachSince: Date(timeIntervalSinceReferenceDate: 721_692_800.123456),
                detail: "41.1 > 40"
            ),
            CheckVote(check: "lat", metric: .responseTimeMs, value: nil, kind: .missing, desired: nil, detail: "stale"),
        ]
        let old = Decision(
            pool: "web",
            time: at(-100),
            action: .hold,
            from: 2,
            to: 2,
            recommendation: 2,
            reason: "ok",
            votes: [],
            dryRun: false
        )
        let new = Decision(
            pool: "web",
            time: at(0.25),
            action: .scaleOut,
            from: 2,
            to: 5,
            recommendation: 5,
            reason: "cpu",
            votes: votes,
            dryRun: true,
            forecast: ForecastNote(
                check: "cpu", metric: .sessions, leadSeconds: 130.5, value: 812.125, wants: 5, abstained: nil,
                detail: "forecast sessions 812.13 in 130500ms → wants 5")
        )
        let otherPool = Decision(
            pool: "api",
            time: at(1),
            action: .scaleIn,
            from: 3,
            to: 2,
            recommendation: 2,
            reason: "quiet",
            votes: [],
            dryRun: false
        )
        for d in [new, old, otherPool] { try store.record(d) }
        #expect(try store.decisions(pool: "web", since: at(-1000)) == [old, new])
        #expect(try store.decisions(pool: "web", since: at(0)) == [new])
    }

    @Test func nonFiniteVoteValuesAreRecorded() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        let vote = CheckVote(check: "c", metric: .queue, value: .nan, kind: .hold, desired: nil, detail: "")
        try store.record(
            Decision(
                pool: "web",
                time: t0,
                action: .hold,
                from: 1,
                to: 1,
                recommendation: 1,
                reason: "",
                votes: [vote],
                dryRun: false
            )
        )
        let value = try #require(try store.decisions(pool: "web", since: t0).first?.votes.first?.value)
        #expect(value.isNaN)
    }
}
