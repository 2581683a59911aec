import FlockTestSupport
import Foundation
import Testing

/// The built `flockctl` and `flockd` with the Xen driver on this host, which has no Xen.
@Suite struct XenCommandLineTests {
    @Test(arguments: [["vm", "list", "--hypervisor", "xen"], ["vm", "list", "--hypervisor", "xen", "--json"]])
    func listingWithoutXenPrintsTheNotRunningError(_ arguments: [String]) async throws {
        let scratch = try Scratch(prefix: "flock-xen-tests")
        let run = try await runBuilt("flockctl", arguments, in: scratch)
        #expect(run.status == 1, "\(run)")
        #expect(run.stdout.isEmpty, "\(run)")
        #expect(
            run.stderr
                == "error: Xen is not running on this host: /dev/xen/privcmd does not exist: this kernel is not running as a Xen domain (no privileged command interface). Boot the host into the Xen hypervisor and run Flock in dom0 as root with the Xen toolstack started (systemctl start xencommons: xenstored, xenconsoled), or use the QEMU driver (kind: qemu, --hypervisor qemu)\n",
            "\(run)")
    }

    @Test func aBadXenSpecIsRejectedWithEveryProblemBeforeConnecting() async throws {
        let scratch = try Scratch(prefix: "flock-xen-tests")
        let spec = try scratch.write(
            "parent.yaml",
            """
            name: web-parent
            pool: web
            kernel: /nonexistent/vmlinuz
            memory_mib: lots
            colour: blue
            address: 10.78.0.2
            prefix: 31

            """)
        let run = try await runBuilt("flockctl", ["vm", "start", "--hypervisor", "xen", spec], in: scratch)
        #expect(run.status == 1, "\(run)")
        let lines = run.stderr.split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "\(spec): error: unknown key 'colour' (known: address, bridge, cmdline, gateway, guest_port, kernel, mac, memory_mib, name, pool, prefix, ramdisk, vcpus, vif_script)",
                "\(spec): error: 'memory_mib' must be a whole number",
                "\(spec): error: kernel '/nonexistent/vmlinuz' does not exist or is not readable",
                "\(spec): error: prefix 31 must be 8...30",
            ], "\(run)")
    }

    @Test func theShippedXenSpecParses() async throws {
        // Its kernel is built by Deploy/guest/build.sh; only that problem may remain.
        let scratch = try Scratch(prefix: "flock-xen-tests")
        let spec = Repo.path("Deploy/xen/parent.yaml")
        let run = try await runBuilt("flockctl", ["vm", "start", "--hypervisor", "xen", spec], in: scratch)
        #expect(run.status == 1, "\(run)")
        let problems = run.stderr.split(separator: "\n").filter { !$0.contains("does not exist or is not readable") }
        #expect(
            problems.allSatisfy { $0.hasPrefix("error: Xen is not running on this host") }, "\(run)")
    }

    @Test func flockdChecksXenSettingsWithLocations() async throws {
        let scratch = try Scratch(prefix: "flock-xen-tests")
        try scratch.write("web.yaml", try String(contentsOfFile: Repo.path("Policies/web.yaml"), encoding: .utf8))
        func config(_ settings: String) throws -> String {
            try scratch.write(
                "flockd.yaml",
                """
                store: { path: flock.db }
                balancers:
                  lb: { kind: haproxy, socket: /run/haproxy/admin.sock }
                hypervisors:
                  dom0: { kind: xen\(settings) }
                pools:
                  web: { policy: web.yaml, balancer: lb, hypervisor: dom0, parent: web-parent }

                """)
        }
        let good = try config(
            ", state_root: /run/flock/xen, boot_timeout: 2m, agent_timeout: 30s, hold_bridge: xenhold0")
        let valid = try await runBuilt("flockd", ["--check-config", good], in: scratch)
        #expect(valid.status == 0, "\(valid)")
        #expect(valid.stdout.contains("valid; 1 pool(s): web"), "\(valid)")

        let bad = try config(", state_root: run/xen, agent_timeout: soon, snapshot_max_age: 1s, hold_bridge: a b")
        let invalid = try await runBuilt("flockd", ["--check-config", bad], in: scratch)
        #expect(invalid.status == 1, "\(invalid)")
        // Each error points at the value (line 5: `  dom0: { kind: xen, state_root: run/xen, …`).
        #expect(
            invalid.stderr.split(separator: "\n").map(String.init) == [
                "\(bad):5:34: error: hypervisors.dom0.state_root: must be an absolute path; got 'run/xen' (hint: e.g. /run/flock/xen (tmpfs: checkpoints hold a parent's whole memory))",
                "\(bad):5:58: error: hypervisors.dom0.agent_timeout: must be a duration longer than zero; got 'soon' (hint: a whole number and a unit: 500ms, 2s, 1m or 1h)",
                "\(bad):5:64: error: unknown key 'snapshot_max_age' in hypervisors.dom0 (hint: allowed keys: kind, state_root, boot_timeout, agent_timeout, hold_bridge)",
                "\(bad):5:99: error: hypervisors.dom0.hold_bridge: must be a Linux interface name (1-15 of [A-Za-z0-9_-]); got 'a b' (hint: a dom0 bridge with no address and no uplink, e.g. xenhold0)",
                "flockd: not starting: fix the config above",
            ], "\(invalid)")
    }

    @Test func theHoldBridgeIsOnlyForXenAndMustBeAnInterfaceName() async throws {
        let scratch = try Scratch(prefix: "flock-xen-tests")
        for (arguments, mentions) in [
            (["vm", "clone", "web-parent", "--hold-bridge", "xenhold0"], "--hold-bridge is for --hypervisor xen"),
            (
                ["vm", "clone", "web-parent", "--hypervisor", "xen", "--hold-bridge", "not a bridge"],
                "--hold-bridge must be a Linux interface name"
            ),
        ] {
            let run = try await runBuilt("flockctl", arguments, in: scratch)
            #expect(run.status == 2, "\(run)")
            #expect(run.stderr.contains(mentions), "\(run)")
        }
    }
}
