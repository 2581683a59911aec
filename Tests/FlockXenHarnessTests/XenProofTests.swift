import Testing

/// Proof on real Xen (issue #7 part 4): Xen 4.17 and a Debian dom0 under QEMU TCG; inside dom0,
/// Xen's own `xl` takes a warm PV parent, checkpoints it (`xl save -c`), restores two clones
/// (`xl restore`), gives each a new identity through the xenstore contract the guest agent
/// implements, and destroys them all. See Deploy/xen/README.md.
///
/// Slow (about 2 minutes cached; the first run also debootstraps the dom0): run it alone with
/// `swift test --filter FlockXenHarnessTests`. It needs root (debootstrap), qemu-system-x86_64
/// and network access to deb.debian.org for the first build.
@Suite("Xen harness (xl proof in a dom0 under QEMU)", .serialized)
struct XenProofTests {
    @Test("Xen boots with the dom0 and the proof runs to its end")
    func harnessCompletes() async throws {
        let run = try await HarnessRun.xl.value
        #expect(run.seconds["harness_dom0_up"] != nil, "dom0 never came up:\n\(run.explain("dom0_up"))")
        let summary = try #require(run.summary, "no FLOCK-SUMMARY:\n\(run.explain("summary"))")
        #expect(summary["ok"] as? Bool == true, "proof failed: \(run.checks.values.filter { !$0.ok }.map(\.name))")
        #expect(run.status == 0, "harness exit \(run.status)")
    }

    @Test("The warm parent serves and keeps serving after its checkpoint")
    func parentServes() async throws {
        let run = try await HarnessRun.xl.value
        for name in ["parent_serves", "parent_warm", "checkpoint_saved", "parent_serves_after_checkpoint"] {
            #expect(run.passed(name), "\(run.explain(name))")
        }
        #expect(
            run.checks["checkpoint_saved"]?.detail.contains("mode 600") == true, "\(run.explain("checkpoint_saved"))")
    }

    @Test("Each clone acks its identity over xenstore and serves HTTP")
    func clonesServe() async throws {
        let run = try await HarnessRun.xl.value
        for clone in ["flock-clone-1", "flock-clone-2"] {
            #expect(run.passed("\(clone)_ack"), "\(run.explain("\(clone)_ack"))")
            #expect(run.passed("\(clone)_serves"), "\(run.explain("\(clone)_serves"))")
            #expect(run.seconds["\(clone)_restore_to_serving"] != nil)
        }
    }

    @Test("Over xenstore a bad identity gets an error and changes nothing; a new generation is applied")
    func identityContractPaths() async throws {
        let run = try await HarnessRun.xl.value
        for name in ["flock-clone-1_bad_identity_refused", "flock-clone-1_new_generation_applied"] {
            let ok = run.passed(name)
            #expect(ok, "\(run.explain(name))")
        }
    }

    @Test("Clones inherit the parent's warm cache")
    func warmCacheHit() async throws {
        let run = try await HarnessRun.xl.value
        for clone in ["flock-clone-1", "flock-clone-2"] {
            #expect(run.passed("\(clone)_warm_cache_hit"), "\(run.explain("\(clone)_warm_cache_hit"))")
        }
    }

    @Test("Clones have distinct identities and the parent keeps its own")
    func distinctIdentities() async throws {
        let run = try await HarnessRun.xl.value
        for name in [
            "flock-clone-1_identity", "flock-clone-2_identity", "distinct_identities", "parent_identity_unchanged",
        ] {
            #expect(run.passed(name), "\(run.explain(name))")
        }
    }

    @Test("After xl destroy only Domain-0 is left, with no vif on the bridge")
    func nothingLeft() async throws {
        let run = try await HarnessRun.xl.value
        #expect(run.passed("nothing_left"), "\(run.explain("nothing_left"))")
        #expect(run.passed("no_vifs_left"), "\(run.explain("no_vifs_left"))")
    }
}
