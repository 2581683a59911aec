import FlockTestSupport
import Foundation
import Testing

@testable import FlockStore

@Suite struct JournalTests {
    @Test func openIntentsAreThoseWithoutAResult() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        let clone = try store.journalIntent(
            pool: "web",
            instance: "flock-web-a",
            action: "clone",
            detail: "lazy",
            at: t0
        )
        let register = try store.journalIntent(
            pool: "web",
            instance: "flock-web-b",
            action: "register",
            detail: "",
            at: at(1)
        )
        let other = try store.journalIntent(pool: "api", instance: nil, action: "drain", detail: "", at: at(2))
        try store.journalResult(intentId: clone, phase: .done, detail: "0.6s", at: at(3))

        #expect(try store.openIntents(pool: "web").map(\.id) == [register])
        #expect(try store.openIntents(pool: nil).map(\.id) == [register, other])
        #expect(
            try store.journal(pool: "web", limit: 2) == [
                JournalEntry(
                    id: register,
                    pool: "web",
                    instance: "flock-web-b",
                    action: "register",
                    phase: .intent,
                    detail: "",
                    time: at(1)
                ),
                JournalEntry(
                    id: other + 1,
                    pool: "web",
                    instance: "flock-web-a",
                    action: "clone",
                    phase: .done,
                    detail: "0.6s",
                    time: at(3),
                    intentId: clone
                ),
            ]
        )
    }

    @Test func resultsAreChecked() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        let id = try store.journalIntent(pool: "web", instance: nil, action: "remove", detail: "", at: t0)
        #expect(throws: StoreError.notAResult("intent")) {
            try store.journalResult(intentId: id, phase: .intent, detail: "", at: at(1))
        }
        #expect(throws: StoreError.unknownIntent(id + 7)) {
            try store.journalResult(intentId: id + 7, phase: .done, detail: "", at: at(1))
        }
        try store.journalResult(intentId: id, phase: .failed, detail: "balancer unreachable", at: at(1))
        #expect(throws: StoreError.intentFinished(id, phase: "failed")) {
            try store.journalResult(intentId: id, phase: .done, detail: "", at: at(2))
        }
        #expect(try store.openIntents(pool: nil).isEmpty)
    }
}
