import FlockCore
import FlockDaemon
import FlockPolicy
import FlockTestSupport
import Foundation
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `hosts:` and a pool's `placement:`: a valid section is read whole, and each bad value is a
/// located error that says what to write.
@Suite struct HostsConfigTests {
    /// A config with two hosts and a pool placed on them; the key is 0600 and known_hosts exists.
    func config(_ scratch: Scratch, edit: (String) -> String = { $0 }) throws -> String {
        try scratch.webPolicy()
        try scratch.write("keys/known_hosts", "10.231.1.2 ssh-ed25519 AAAA\n")
        let key = try scratch.write("keys/id", "key\n")
        chmod(key, 0o600)
        return try scratch.write(
            "flockd.yaml",
            edit(
                """
                balancers:
                  lb: { kind: haproxy, socket: /run/haproxy/admin.sock }
                hypervisors:
                  vm: { kind: memory, parent: web-parent }
                hosts:
                  b1:
                    ssh: flock@10.231.1.2
                    identity_file: keys/id
                    known_hosts: keys/known_hosts
                    state_root: /run/flock/host
                    bridge: flkbr0
                    cidr: 10.232.1.0/24
                    max_vms: 8
                  b2: { ssh: root@10.231.2.2, port: 2222, identity_file: keys/id, known_hosts: keys/known_hosts, state_root: /run/flock/host, bridge: flkbr0, cidr: 10.232.2.0/24, gateway: 10.232.2.254, max_memory_mib: 4096 }
                pools:
                  web:
                    policy: web.yaml
                    balancer: lb
                    hypervisor: vm
                    placement: { hosts: [b1, b2], strategy: pack }

                """))
    }

    func errors(_ scratch: Scratch, edit: (String) -> String) throws -> [PolicyDiagnostic] {
        configErrors(try config(scratch, edit: edit), kinds: .placing)
    }

    @Test func hostsAndPlacementAreRead() throws {
        let scratch = try Scratch()
        let config = try DaemonConfigParser.load(path: try config(scratch), environment: [:], kinds: .placing)
        let b1 = try #require(config.hosts["b1"])
        #expect(b1.user == "flock" && b1.address == "10.231.1.2" && b1.port == 22)
        #expect(b1.identityFile == scratch.path("keys/id") && b1.knownHostsFile == scratch.path("keys/known_hosts"))
        #expect(b1.stateRoot == "/run/flock/host" && b1.flockctl == "flockctl" && b1.maxVMs == 8)
        #expect(b1.maxMemoryMiB == nil && b1.gateway == nil && b1.location.line == 7)
        let b2 = try #require(config.hosts["b2"])
        #expect(
            b2.port == 2222 && b2.gateway == "10.232.2.254" && b2.maxMemoryMiB == 4096 && b2.cidr == "10.232.2.0/24")
        let placement = try #require(config.pools.first?.placement)
        #expect(placement.hosts == ["b1", "b2"] && placement.strategy == .pack)
        #expect(b1.lostAfter == .seconds(15) && b2.lostAfter == .seconds(15), "the default grace")
    }

    /// `lost_after` is a host's grace before its clones fail: read as a duration, at least 1s,
    /// each bad value located.
    @Test func lostAfterIsReadAndBadValuesAreLocated() throws {
        let scratch = try Scratch()
        let path = try config(scratch) {
            $0.replacingOccurrences(of: "max_vms: 8", with: "max_vms: 8\n    lost_after: 40s")
        }
        let config = try DaemonConfigParser.load(path: path, environment: [:], kinds: .placing)
        #expect(config.hosts["b1"]?.lostAfter == .seconds(40))

        let found = try errors(scratch) {
            $0.replacingOccurrences(of: "max_vms: 8", with: "max_vms: 8\n    lost_after: 500ms")
                .replacingOccurrences(of: "max_memory_mib: 4096", with: "max_memory_mib: 4096, lost_after: 15")
        }
        #expect(
            found.contains { $0.line == 14 && $0.message == "hosts.b1.lost_after must be at least 1s; got 500ms" },
            "\(found)")
        #expect(
            found.contains {
                $0.line == 15 && $0.message == "hosts.b2.lost_after must be a duration; got '15'"
                    && $0.hint == "add a unit, e.g. '15s'"
            }, "\(found)")
    }

    @Test func strategyDefaultsToSpreadAndLocalNeedsNoDefinition() throws {
        let scratch = try Scratch()
        let path = try config(scratch) { $0.replacingOccurrences(of: "[b1, b2], strategy: pack", with: "[local, b2]") }
        let config = try DaemonConfigParser.load(path: path, environment: [:], kinds: .placing)
        #expect(config.pools.first?.placement?.hosts == ["local", "b2"])
        #expect(config.pools.first?.placement?.strategy == .spread)
    }

    @Test func unknownHostInPlacementIsLocatedWithASuggestion() throws {
        let scratch = try Scratch()
        let found = try errors(scratch) { $0.replacingOccurrences(of: "[b1, b2]", with: "[b1, b3]") }
        #expect(
            found.map(\.description) == [
                "\(scratch.path("flockd.yaml")):20:30: error: pools.web.placement.hosts: no host named 'b3' (hint: did you mean 'b1'?)"
            ], "\(found)")
    }

    @Test func unknownStrategyIsLocated() throws {
        let scratch = try Scratch()
        let found = try errors(scratch) { $0.replacingOccurrences(of: "strategy: pack", with: "strategy: spred") }
        #expect(found.count == 1 && found.first?.line == 20, "\(found)")
        #expect(found.first?.message == "pools.web.placement.strategy: unknown value 'spred'")
        #expect(found.first?.hint == "did you mean 'spread'?")
    }

    @Test func badCIDRAndGatewayAreLocated() throws {
        let scratch = try Scratch()
        let found = try errors(scratch) {
            $0.replacingOccurrences(of: "cidr: 10.232.1.0/24", with: "cidr: 10.232.1.0/33")
                .replacingOccurrences(of: "gateway: 10.232.2.254", with: "gateway: 10.232.3.1")
        }
        #expect(
            found.contains {
                $0.line == 12 && $0.message == "hosts.b1.cidr must be an IPv4 subnet; got '10.232.1.0/33'"
            },
            "\(found)")
        #expect(found.contains { $0.line == 14 && $0.message == "hosts.b2.gateway 10.232.3.1 is not in 10.232.2.0/24" })
        // The pool's placement names both, which had errors: reported there, not again here.
        #expect(found.count == 2, "\(found)")
    }

    @Test func overlappingSubnetsAreLocatedAtTheLaterHost() throws {
        let scratch = try Scratch()
        let found = try errors(scratch) {
            $0.replacingOccurrences(of: "cidr: 10.232.2.0/24", with: "cidr: 10.232.0.0/16")
        }
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.line == 14)
        #expect(found.first?.message == "hosts.b2.cidr 10.232.0.0/16 overlaps hosts.b1.cidr 10.232.1.0/24")
    }

    @Test func missingOrLooseKeyAndMissingKnownHostsAreLocated() throws {
        let scratch = try Scratch()
        let missing = try errors(scratch) {
            $0.replacingOccurrences(of: "identity_file: keys/id\n", with: "identity_file: keys/absent\n")
                .replacingOccurrences(of: "known_hosts: keys/known_hosts, state", with: "known_hosts: keys/nope, state")
        }
        #expect(
            missing.contains {
                $0.line == 8
                    && $0.message.hasPrefix(
                        "hosts.b1.identity_file: the SSH key \(scratch.path("keys/absent")) does not exist")
                    && $0.hint == "make one with ssh-keygen -t ed25519 -f \(scratch.path("keys/absent"))"
            }, "\(missing)")
        #expect(
            missing.contains {
                $0.line == 14 && $0.message == "hosts.b2.known_hosts: \(scratch.path("keys/nope")) cannot be read"
                    && $0.hint?.contains("ssh-keyscan -p 2222 10.231.2.2") == true
            }, "\(missing)")
        chmod(scratch.path("keys/id"), 0o644)
        let loose = configErrors(scratch.path("flockd.yaml"), kinds: .placing)
        #expect(
            loose.contains {
                $0.message.hasSuffix("has mode 644; it must be 0600 (chmod 600 \(scratch.path("keys/id")))")
            }, "\(loose)")
    }

    @Test func missingKeysBadSSHAndReservedNameAreLocated() throws {
        let scratch = try Scratch()
        let found = try errors(scratch) {
            $0.replacingOccurrences(of: "    state_root: /run/flock/host\n", with: "")
                .replacingOccurrences(of: "ssh: root@10.231.2.2", with: "ssh: 10.231.2.2")
                .replacingOccurrences(of: "  b1:\n", with: "  local:\n")
                .replacingOccurrences(of: "max_vms: 8", with: "max_vms: 0")
        }
        let messages = found.map(\.message)
        #expect(messages.contains("hosts.local: 'local' is the parent's own host and cannot be defined"), "\(messages)")
        #expect(messages.contains("hosts.local is missing 'state_root'"))
        #expect(messages.contains("hosts.local.max_vms must be at least 1; got 0"))
        #expect(messages.contains("hosts.b2.ssh must be USER@ADDRESS; got '10.231.2.2'"))
    }

    @Test func placementNeedsAPlacingBuildAndAKindWhoseSnapshotsTravel() throws {
        let scratch = try Scratch()
        let path = try config(scratch)
        let without = configErrors(path, kinds: .test)
        #expect(
            without.map(\.message) == ["pools.web.placement: this flockd was built without multi-host placement"])
        var other = DriverKinds.placing
        other.placement = StandInPlacement(hypervisorKinds: ["qemu"])
        let wrongKind = configErrors(path, kinds: other)
        #expect(
            wrongKind.map(\.message) == [
                "pools.web.placement: hypervisor kind 'memory' cannot place clones on other hosts"
            ])
        #expect(wrongKind.first?.hint == "kinds that can: qemu")
    }

    @Test func emptyOrRepeatedHostListsAreLocated() throws {
        let scratch = try Scratch()
        let empty = try errors(scratch) { $0.replacingOccurrences(of: "[b1, b2]", with: "[]") }
        #expect(empty.map(\.message) == ["pools.web.placement.hosts must be a list of host names"])
        let twice = try errors(scratch) { $0.replacingOccurrences(of: "[b1, b2]", with: "[b1, b1]") }
        #expect(twice.map(\.message) == ["pools.web.placement.hosts names 'b1' twice"])
    }
}

/// Accepts `placement:` on the test's in-memory hypervisor; never opened by the parser tests.
struct StandInPlacement: PlacementFactory {
    let hypervisorKinds: [String]
    func place(
        _ hypervisor: any Hypervisor, pool: String, placement: DaemonConfig.PlacementConfig,
        hosts: [DaemonConfig.HostConfig], logDirectory: String, logger: Logger
    ) async throws -> any Hypervisor { hypervisor }
}

extension DriverKinds {
    static var placing: DriverKinds {
        var kinds = DriverKinds.test
        kinds.placement = StandInPlacement(hypervisorKinds: ["memory"])
        return kinds
    }
}
