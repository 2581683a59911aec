import FlockCore
import Testing

@testable import FlockHosts

/// The grace rules of a silent host, without hosts: told each answer and silence with its time.
@Suite struct HostWatchTests {
    let start = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int(seconds * 1000)) }

    func vm(_ name: String) -> VMInfo {
        VMInfo(
            name: name, pool: "web", status: .running,
            lineage: Instance.Lineage(parent: "web-parent", snapshot: "s1", generation: 1))
    }

    /// Within the grace the last listing stands in (a blip fails nothing); past it the host is
    /// lost once, its VMs' cause names it, and the silence counts from the first request unanswered.
    @Test func lastListingStandsInUntilTheGraceThenTheHostIsLost() {
        var watch = HostWatch(lostAfter: ["b1": .seconds(5)])
        #expect(watch.answered("b1", vms: [vm("flock-web-a")]) == nil)
        watch.started([vm("flock-web-b")], on: "b1")

        #expect(
            watch.silent("b1", asked: at(1), now: at(4), problem: "dropped")
                == .lastListing([vm("flock-web-a"), vm("flock-web-b")]))
        #expect(
            watch.silent("b1", asked: at(5), now: at(5.9), problem: "dropped")
                == .lastListing([vm("flock-web-a"), vm("flock-web-b")]))
        #expect(watch.lostCause("b1") == nil && watch.cause(of: "flock-web-a") == nil)
        #expect(watch.listDeadline("b1", at: at(5)) == .seconds(1), "what is left of the grace")
        #expect(watch.listDeadline("b1", at: at(5.9)) == .seconds(1), "at least 1 s")
        #expect(watch.listDeadline("b1", at: at(3)) == .seconds(3))

        let lost = watch.silent("b1", asked: at(6), now: at(6.2), problem: "timed out")
        let cause = "host b1 lost: no answer for 5.2s (grace 5s): timed out"
        #expect(lost == .lost(cause: cause, newly: true))
        #expect(watch.silent("b1", asked: at(7), now: at(7), problem: "x") == .lost(cause: cause, newly: false))
        #expect(watch.lostCause("b1") == cause)
        #expect(watch.cause(of: "flock-web-b")?.hasPrefix(cause + "; what it left there is destroyed") == true)
        #expect(watch.cause(of: "flock-web-other") == nil, "a VM the lost host never listed is not its")
    }

    /// An answer within the grace resets the silence; an answer after a loss ends it and hands
    /// back the clones destroyed meanwhile (left there, now reconciled).
    @Test func anAnswerResetsTheSilenceAndEndsALoss() {
        var watch = HostWatch(lostAfter: ["b1": .seconds(5)])
        _ = watch.answered("b1", vms: [vm("flock-web-a")])
        _ = watch.silent("b1", asked: at(0), now: at(4), problem: "dropped")
        #expect(watch.answered("b1", vms: [vm("flock-web-a")]) == nil, "not lost: no return to report")
        #expect(watch.listDeadline("b1", at: at(5)) == .seconds(5), "the whole grace again")
        #expect(HostWatch(lostAfter: ["b2": .seconds(60)]).listDeadline("b2", at: at(0)) == .seconds(10))
        #expect(
            watch.silent("b1", asked: at(6), now: at(9), problem: "dropped") == .lastListing([vm("flock-web-a")]),
            "the silence counts afresh from 6 s")

        guard case .lost = watch.silent("b1", asked: at(11), now: at(11), problem: "dropped") else {
            Issue.record("not lost after 5 s")
            return
        }
        watch.leftBehind("flock-web-a", on: "b1")
        #expect(watch.answered("b1", vms: [vm("flock-web-a")]) == ["flock-web-a"])
        #expect(watch.lostCause("b1") == nil && watch.cause(of: "flock-web-a") == nil)
        #expect(watch.listDeadline("b1", at: at(20)) == .seconds(5), "answered: the whole grace")
    }

    /// A host silent since start-up has no listing to stand in: its VMs are unknown within the
    /// grace; once it is lost, a clone no host lists may be on it, and the cause says so.
    @Test func aHostThatNeverAnsweredIsUnknownThenLost() {
        var watch = HostWatch(lostAfter: ["b1": .seconds(2), "b2": .seconds(30)])
        #expect(watch.silent("b1", asked: at(0), now: at(1), problem: "refused") == .unknown)
        #expect(watch.silent("b2", asked: at(0), now: at(10), problem: "refused") == .unknown, "b2's own grace")
        guard case .lost = watch.silent("b1", asked: at(3), now: at(3), problem: "refused") else {
            Issue.record("not lost after its grace")
            return
        }
        let cause = watch.cause(of: "flock-web-x") ?? ""
        #expect(cause.hasPrefix("its VM is not on any host that answers; host b1 lost: "), "\(cause)")
    }
}
