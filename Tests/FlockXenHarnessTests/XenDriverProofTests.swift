import Testing

/// Proof on real Xen, through Flock's own driver: the same dom0 as `XenProofTests`, where the
/// host-built flockctl runs `vm start|clone|list|resume|destroy --hypervisor xen` over FlockXen (libxl
/// and xenstore from Swift): a warm PV parent, two eager clones from one checkpoint, each given
/// its identity over xenstore, the parent resumed from each stopped state (`vm resume`), then
/// everything destroyed. See Deploy/xen/proof-flockctl.sh.
@Suite("Xen harness (FlockXen proof in a dom0 under QEMU)", .serialized)
struct XenDriverProofTests {
    @Test("The driver's proof runs to its end with every check passed")
    func proofPasses() async throws {
        let run = try await HarnessRun.driver.value
        #expect(run.passed("flockctl_runs"), "\(run.explain("flockctl_runs"))")
        let summary = try #require(run.summary, "no FLOCK-SUMMARY:\n\(run.explain("summary"))")
        #expect(summary["driver"] as? Bool == true)
        #expect(summary["ok"] as? Bool == true, "proof failed: \(run.checks.values.filter { !$0.ok }.map(\.name))")
        #expect(run.status == 0, "harness exit \(run.status)")
    }

    @Test("flockctl starts a warm parent and forks two clones that serve from its warm cache")
    func clonesServeWarm() async throws {
        let run = try await HarnessRun.driver.value
        for name in [
            "vm_start", "parent_listed", "parent_warm", "vm_clone", "two_clones", "hold_bridge_empty", "vifs_on_xenbr0",
        ] {
            #expect(run.passed(name), "\(run.explain(name))")
        }
        let warm = run.checks.values.filter { $0.name.hasPrefix("clone_") && $0.name.hasSuffix("_warm") }
        #expect(warm.count == 2 && warm.allSatisfy(\.ok), "\(warm.map { run.explain($0.name) })")
        #expect(run.seconds["clone_batch_of_2_to_acked"] != nil)
    }

    @Test("Clones have distinct identities, the parent keeps serving, and nothing is left")
    func identitiesAndCleanup() async throws {
        let run = try await HarnessRun.driver.value
        for name in ["distinct_identities", "parent_still_serving", "nothing_left", "no_checkpoint_left"] {
            #expect(run.passed(name), "\(run.explain(name))")
        }
    }

    /// Each stopped state is made as what leaves it would (see proof-flockctl.sh); `xl save -p`
    /// leaves the domain paused, not suspended, so the suspend is asked of the guest through
    /// xenstore as a checkpoint asks it, and nothing resumes it.
    @Test("vm resume runs a parent left paused (xl pause, xl save -p) or suspended (an interrupted checkpoint)")
    func resumeRunsAStoppedParent() async throws {
        let run = try await HarnessRun.driver.value
        for name in ["xl_pause_paused", "xl_save_p_leaves_paused", "suspend_suspended", "suspended_paused_state"] {
            #expect(run.passed(name), "the state to resume was not made: \(run.explain(name))")
        }
        for step in ["xl_pause", "xl_save_p", "suspended", "suspended_paused"] {
            for name in ["\(step)_resumed", "\(step)_runs", "\(step)_serves"] {
                #expect(run.passed(name), "\(run.explain(name))")
            }
        }
        for name in ["resume_running_noop", "resume_clone_refused"] {
            #expect(run.passed(name), "\(run.explain(name))")
        }
        let clones = run.checks.values.filter { $0.name.hasPrefix("resume_clone_") && $0.name.hasSuffix("_serves") }
        #expect(clones.count == 2 && clones.allSatisfy(\.ok), "\(clones.map { run.explain($0.name) })")
    }

    @Test("Lazy clones are refused with what this host has: under TCG, Xen has no VMX and no HAP")
    func lazyRefused() async throws {
        let run = try await HarnessRun.driver.value
        #expect(run.passed("lazy_refused"), "\(run.explain("lazy_refused"))")
    }
}
