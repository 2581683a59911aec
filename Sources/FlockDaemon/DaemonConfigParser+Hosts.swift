import FlockCore
import FlockPolicy
import FlockSystem
import Foundation
import Yams

/// `hosts:` and a pool's `placement:`: the other hypervisor hosts flockd reaches over SSH, and
/// which of them a pool's clones may use. The SSH files are checked here, at start-up and by
/// `--check-config`, so that a missing key is a located error and not a failed clone an hour later.
extension DaemonConfigParser.Reading {
    static let hostKeys = [
        "ssh", "port", "identity_file", "known_hosts", "state_root", "flockctl", "bridge", "cidr", "gateway",
        "max_vms", "max_memory_mib", "lost_after",
    ]
    /// A host's grace when `lost_after` is not given: three of ssh's keep-alives (5 s apart) go
    /// unanswered before the session drops, so a shorter one would fail clones on a blip.
    static let defaultLostAfter = Duration.seconds(15)

    /// Every host that is valid; a host with any error is left out (and was reported).
    mutating func readHosts(_ node: Node?) -> [String: DaemonConfig.HostConfig] {
        let hosts = readNamed(node, section: "hosts") { $0.readHost($1, name: $2) }
        // Two hosts whose VM subnets overlap would hand out the same addresses, and the
        // balancer's routes could not tell them apart.
        let ordered = hosts.values.sorted { $0.location.line < $1.location.line }
        for (index, host) in ordered.enumerated() {
            guard let subnet = IPv4Subnet(host.cidr) else { continue }
            for earlier in ordered[..<index] {
                guard let other = IPv4Subnet(earlier.cidr), subnet.overlaps(other) else { continue }
                extra.append(
                    host.location.diagnostic(
                        "hosts.\(host.name).cidr \(host.cidr) overlaps hosts.\(earlier.name).cidr \(earlier.cidr)",
                        hint: "each host needs a VM subnet of its own, routable from the balancer"))
            }
        }
        return hosts
    }

    mutating func readHost(_ node: Node, name: String) -> DaemonConfig.HostConfig? {
        let path = "hosts.\(name)"
        guard let f = reader.fields(node, path: path, allowed: Self.hostKeys) else { return nil }
        let before = reader.diagnostics.count + extra.count
        if name == Placement.localHost {
            reader.error(
                at: f.mark, "\(path): '\(Placement.localHost)' is the parent's own host and cannot be defined",
                hint: "give this host another name; placement lists 'local' without defining it")
        } else if !Pool.isValidName(name) {
            reader.error(at: f.mark, "host name '\(name)' is not allowed", hint: "use 1 to 63 of a-z, 0-9 and '-'")
        }
        reader.require(["ssh", "identity_file", "known_hosts", "state_root", "bridge", "cidr"], in: f)
        var user = "", address = ""
        if let ssh = reader.string(f, "ssh") {
            let parts = ssh.split(separator: "@", omittingEmptySubsequences: false)
            if parts.count == 2, PlainArgument.isWord(parts[0]), PlainArgument.isWord(parts[1]),
                !parts[1].hasPrefix("-")
            {
                (user, address) = (String(parts[0]), String(parts[1]))
            } else {
                reader.error(
                    at: f["ssh"]?.mark, "\(path).ssh must be USER@ADDRESS; got '\(ssh)'",
                    hint: "e.g. flock@10.0.0.12 (the port goes in 'port')")
            }
        }
        let port = reader.int(f, "port") ?? 22
        if !(1...65535).contains(port) { reader.error(at: f["port"]?.mark, "\(path).port must be 1...65535") }
        let identity = reader.string(f, "identity_file").map(resolve)
        if let identity, let problem = privateKeyFileProblem(identity) {
            reader.error(
                at: f["identity_file"]?.mark, "\(path).identity_file: the SSH key \(identity) \(problem)",
                hint: problem.hasPrefix("has mode") ? nil : "make one with ssh-keygen -t ed25519 -f \(identity)")
        }
        let knownHosts = reader.string(f, "known_hosts").map(resolve)
        if let knownHosts, !FileManager.default.isReadableFile(atPath: knownHosts) {
            reader.error(
                at: f["known_hosts"]?.mark, "\(path).known_hosts: \(knownHosts) cannot be read",
                hint:
                    "add the host's key after checking its fingerprint: ssh-keyscan -p \(port) \(address) >> \(knownHosts)"
            )
        }
        let stateRoot = reader.string(f, "state_root")
        if let stateRoot, !stateRoot.hasPrefix("/") || !PlainArgument.isPath(stateRoot) {
            reader.error(
                at: f["state_root"]?.mark,
                "\(path).state_root must be an absolute path of [A-Za-z0-9/._-]; got '\(stateRoot)'",
                hint: "e.g. /run/flock/host (tmpfs on the host)")
        }
        let flockctl = reader.string(f, "flockctl") ?? "flockctl"
        if !PlainArgument.isPath(flockctl) || flockctl.hasPrefix("-") {
            reader.error(
                at: f["flockctl"]?.mark, "\(path).flockctl must be a path of [A-Za-z0-9/._-]; got '\(flockctl)'")
        }
        let bridge = reader.string(f, "bridge")
        if let bridge,
            !(1...15).contains(bridge.count) || !bridge.allSatisfy({ $0.isLetter || $0.isNumber || "-_".contains($0) })
        {
            reader.error(
                at: f["bridge"]?.mark,
                "\(path).bridge must be a Linux interface name (1-15 of [A-Za-z0-9_-]); got '\(bridge)'")
        }
        let cidr = reader.string(f, "cidr")
        let subnet = cidr.flatMap(IPv4Subnet.init)
        if let cidr, subnet == nil {
            reader.error(
                at: f["cidr"]?.mark, "\(path).cidr must be an IPv4 subnet; got '\(cidr)'",
                hint: "e.g. 10.232.1.0/24 (prefix 8 to 30)")
        }
        let gateway = reader.string(f, "gateway")
        if let gateway {
            if let address = IPv4Subnet.parseAddress(gateway) {
                if let subnet, !subnet.contains(address) {
                    reader.error(at: f["gateway"]?.mark, "\(path).gateway \(gateway) is not in \(cidr ?? "")")
                }
            } else {
                reader.error(at: f["gateway"]?.mark, "\(path).gateway must be an IPv4 address; got '\(gateway)'")
            }
        }
        let maxVMs = positive(f, "max_vms")
        let maxMemory = positive(f, "max_memory_mib")
        let lostAfter = reader.duration(f, "lost_after") ?? Self.defaultLostAfter
        if lostAfter < .seconds(1) {
            reader.error(
                at: f["lost_after"]?.mark, "\(path).lost_after must be at least 1s; got \(lostAfter.flockText)",
                hint: "it is how long the host may go unanswered before its clones fail; the default is 15s")
        }
        guard reader.diagnostics.count + extra.count == before, let identity, let knownHosts, let stateRoot,
            let bridge, let cidr, !user.isEmpty
        else { return nil }
        return .init(
            name: name, user: user, address: address, port: port, identityFile: identity, knownHostsFile: knownHosts,
            stateRoot: stateRoot, flockctl: flockctl, bridge: bridge, cidr: cidr, gateway: gateway, maxVMs: maxVMs,
            maxMemoryMiB: maxMemory, lostAfter: lostAfter, location: location(f.mark))
    }

    /// A pool's `placement: { hosts: [...], strategy: spread|pack }`.
    mutating func readPlacement(
        _ node: Node, pool: String, hosts: [String: DaemonConfig.HostConfig], declared: Set<String>
    ) -> DaemonConfig.PlacementConfig? {
        let path = "pools.\(pool).placement"
        guard let f = reader.fields(node, path: path, allowed: ["hosts", "strategy"]) else { return nil }
        reader.require(["hosts"], in: f)
        let strategy = reader.choice(f, "strategy", as: Placement.Strategy.self)
        let failedStrategy = f["strategy"] != nil && strategy == nil
        guard let list = f["hosts"] else { return nil }
        guard let items = list.sequence, !items.isEmpty else {
            reader.error(
                at: list.mark, "\(path).hosts must be a list of host names",
                hint: "e.g. [local, b1, b2]: 'local' is the parent's host, the others are under hosts:")
            return nil
        }
        var names: [String] = []
        var valid = true
        for item in items {
            guard let name = item.scalar?.string, item.tag.rawValue != Tag.Name.null.rawValue else {
                reader.error(at: item.mark, "\(path).hosts: each entry must be a host name")
                valid = false
                continue
            }
            if names.contains(name) {
                reader.error(at: item.mark, "\(path).hosts names '\(name)' twice")
                valid = false
            } else if name != Placement.localHost && hosts[name] == nil {
                valid = false
                // A host that is declared but has errors was reported there.
                guard !declared.contains(name) else { continue }
                let known = [Placement.localHost] + declared.sorted()
                reader.error(
                    at: item.mark, "\(path).hosts: no host named '\(name)'",
                    hint: suggestion(for: name, among: known).map { "did you mean '\($0)'?" }
                        ?? "hosts: \(known.joined(separator: ", ")) ('local' is the parent's own host)")
            }
            names.append(name)
        }
        guard valid, !failedStrategy else { return nil }
        return .init(hosts: names, strategy: strategy ?? .spread, location: location(f.mark))
    }

    private mutating func positive(_ f: YAMLReader.Fields, _ key: String) -> Int? {
        guard let value = reader.int(f, key) else { return nil }
        guard value > 0 else {
            reader.error(at: f[key]?.mark, "\(f.path).\(key) must be at least 1; got \(value)")
            return nil
        }
        return value
    }
}

extension DaemonConfigParser.Reading {
    /// `placement:` needs a build that can place, and a hypervisor whose snapshots travel.
    mutating func checkPlacement(of kind: String, at mark: Mark?, pool: String) {
        guard let factory = kinds.placement else {
            reader.error(at: mark, "pools.\(pool).placement: this flockd was built without multi-host placement")
            return
        }
        guard factory.hypervisorKinds.contains(kind) else {
            reader.error(
                at: mark, "pools.\(pool).placement: hypervisor kind '\(kind)' cannot place clones on other hosts",
                hint: "kinds that can: \(factory.hypervisorKinds.joined(separator: ", "))")
            return
        }
    }
}
