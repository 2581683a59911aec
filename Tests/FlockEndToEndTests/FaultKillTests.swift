import FlockCore
import FlockSystem
import FlockDemo
import FlockTestSupport
import Foundation
import Testing

extension EndToEnd {
    /// The fault suite (issue 12): each case injects one fault into the real stack and ends with
    /// the one convergence check (`E2E.convergence`). Nested in `EndToEnd`, so it is serialized
    /// with it and shares its warm parent; filter it with `--filter EndToEnd/Faults`.
    @Suite struct Faults {}
}

/// A scale-out step to SIGKILL flockd at, and the scale-in step to kill it at afterwards: one
/// case covers one of each, so each scale-in starts from the clone its scale-out converged to.
struct KillSteps: Sendable, CustomTestStringConvertible {
    var scaleOut: String
    var scaleIn: String?
    var testDescription: String { "scale-out at \(scaleOut)" + (scaleIn.map { ", scale-in at \($0)" } ?? "") }

    /// The `FaultPoint` names of issue 12 §6, in the order a pool meets them.
    static let scaleOutSteps = [
        "scale-out:decided", "snapshot:paused", "clone:started", "scale-out:ready", "register:maintenance",
        "register:enabled", "scale-out:serving",
    ]
    static let scaleInSteps = [
        "drain:intent", "drain:done", "remove:maintenance", "remove:done", "destroy:done", "destroy:gone",
    ]
    static let all = scaleOutSteps.enumerated().map { index, step in
        KillSteps(scaleOut: step, scaleIn: index < scaleInSteps.count ? scaleInSteps[index] : nil)
    }
}

extension EndToEnd.Faults {
    /// SIGKILL of flockd at an exact step of a scale-out (`FLOCK_FAULT_KILL_AT`), restart without
    /// the hook: the pool converges with the one clone it was asked for. Then the same at a step
    /// of the scale-in back to the parent alone.
    @Test(arguments: KillSteps.all)
    func sigkillAtAStepConvergesAfterRestart(_ steps: KillSteps) async throws {
        try await withFaultStack { e2e in
            try await killAndConverge(e2e, at: steps.scaleOut, desired: 2)
            if let scaleIn = steps.scaleIn { try await killAndConverge(e2e, at: scaleIn, desired: 1) }
        }
    }

    /// Starts flockd with the hook at `step`, asks for `desired`, expects the SIGKILL there, then
    /// restarts flockd plainly and expects convergence at `desired - 1` clones.
    private func killAndConverge(_ e2e: E2E, at step: String, desired: Int) async throws {
        try await e2e.restartFlockd(killingAt: step)
        let started = ContinuousClock.now
        let set = try await e2e.flockd.setDesired(desired)
        #expect(set.status == 200, "\(set.text)")
        let killed = await e2e.awaitFaultKill()
        let caught = await e2e.poolPicture()
        #expect(killed, "flockd did not die at \(step): \(caught)\nlog:\n\(e2e.flockd.log.suffix(2000))")
        #expect(e2e.flockd.log.contains("\(FaultPoint.variable)=\(step): killing myself"), "the kill came at \(step)")
        if step == "snapshot:paused" { #expect(caught.parentStatus == "paused", "killed mid-snapshot: \(caught)") }
        let restarted = ContinuousClock.now
        try await e2e.flockd.start()
        let problem = await e2e.convergence(clones: desired - 1)
        #expect(problem == nil, "after a SIGKILL at \(step) (caught: \(caught)): \(problem ?? "")")
        let converged = ContinuousClock.now - restarted
        print(
            "fault case \(step): killed \(restarted - started) after the request, converged \(converged) after restarting"
        )
    }
}
