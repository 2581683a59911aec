import FlockCore
import FlockSystem
import Foundation
import Logging

extension QEMUDriver {
    /// Starts a parent VM from `spec`, waits until its agent says the app is up, and records it.
    ///
    /// The parent's RAM is a shared file on the state root's tmpfs, which is what lets clones
    /// map a frozen copy of it lazily later.
    public func startParent(_ spec: VMSpec) async throws(QEMUError) -> VMRecord {
        try spec.validate()
        try prepareRoot()
        let (accelerator, warning) = await AcceleratorProbe.resolve(
            spec.accelerator, qemu: configuration.qemu, scratch: root, kernel: spec.kernel)
        if let warning { configuration.logger.warning("\(warning)") }
        let paths = paths(spec.name)
        try createMemoryFile(paths.memory, size: spec.memoryMiB, creatingDirectory: paths.directory)
        var record = try await launch(
            name: spec.name, role: .parent, lineage: Instance.Lineage(), spec: spec, accelerator: accelerator,
            memory: .shared(path: paths.memory), incoming: false)
        do {
            let agent = try await AgentClient.connect(path: paths.agentSocket, vm: spec.name)
            defer { agent.close() }
            _ = try await agent.waitReady(requireApp: true, timeout: configuration.bootTimeout)
            if let network = try bridgeIdentityNetwork(record) {
                var identity = CloneIdentity.fresh(cloneID: spec.name, generation: 0, network: network)
                identity.hostname = spec.name
                _ = try await agent.applyIdentity(identity, timeout: configuration.agentTimeout)
            }
        } catch {
            let console = await consoleTail(paths)
            await stopProcess(paths)
            if let tap = record.tap {
                await Networking.deleteTAP(tap, namespace: configuration.networkNamespace, log: "/dev/null")
            }
            removeDirectory(paths.directory)
            throw .launch(spec.name, "\(error.message)\(console)")
        }
        record.createdAt = Date()
        try JSONFile.write(record, to: paths.metadata)
        return record
    }

    /// Starts QEMU for a VM whose directory does not exist yet, and writes its record.
    ///
    /// On any failure nothing is left behind: the process is killed and the directory removed.
    func launch(
        name: String, role: Instance.Role, lineage: Instance.Lineage, spec: VMSpec, accelerator: Accelerator,
        memory: QEMUCommandLine.Memory, incoming: Bool, diskBacking: String? = nil
    ) async throws(QEMUError) -> VMRecord {
        let paths = paths(name)
        if FileManager.default.fileExists(atPath: paths.metadata) {
            throw .refused("a VM named \(name) already exists (\(paths.directory))")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: paths.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .io("cannot create \(paths.directory): \(error.localizedDescription)")
        }
        let others = list()
        var vmSpec = spec
        vmSpec.name = name
        var record = VMRecord(
            name: name, pool: spec.pool, role: role, lineage: lineage, spec: vmSpec, accelerator: accelerator,
            address: nil, port: nil, mac: Networking.uniqueMAC(excluding: Set(others.map(\.record.mac))), tap: nil,
            disk: nil, generation: 0, createdAt: Date())
        do {
            var network: QEMUCommandLine.Network
            switch spec.network.mode {
            case .user:
                record.address = "127.0.0.1"
                record.port = try Networking.freePort()
                network = .user(hostPort: record.port!, guestPort: spec.guestPort)
            case .bridge:
                guard let subnet = spec.network.cidr.flatMap(IPv4Subnet.init) else {
                    throw QEMUError.invalidSpec("bad cidr")
                }
                let neighbours = others.filter { $0.record.spec.network.cidr == spec.network.cidr }
                var addresses = AddressAllocator(
                    subnet: subnet, gateway: spec.network.gateway, taken: neighbours.compactMap(\.record.address))
                guard let address = addresses.allocate() else {
                    throw QEMUError.launch(name, "no free address left in \(spec.network.cidr ?? "")")
                }
                record.address = address
                record.port = spec.guestPort
                let tap = Networking.tapName(for: name)
                record.tap = tap
                // Recorded before this launch first awaits: the driver is an actor, so a clone of
                // the same batch that runs while this one waits lists the address as taken.
                try JSONFile.write(record, to: paths.metadata)
                try await Networking.createTAP(
                    tap, bridge: spec.network.bridge ?? "", namespace: configuration.networkNamespace, log: paths.log)
                network = .tap(device: tap)
            }
            try JSONFile.write(record, to: paths.metadata)
            if let backing = diskBacking ?? spec.disk {
                let overlay = "\(paths.directory)/disk.qcow2"
                try await DiskImages.createOverlay(overlay, backing: backing, log: paths.log)
                record.disk = overlay
                try JSONFile.write(record, to: paths.metadata)
            }
            for attempt in 1...3 {
                let commandLine = QEMUCommandLine(
                    name: name, spec: vmSpec, accelerator: accelerator, paths: paths, memory: memory, network: network,
                    mac: record.mac, disk: record.disk, incoming: incoming, cpuModel: configuration.cpuModel)
                // In a network namespace, `ip netns exec` runs QEMU there (it stays there once daemonized).
                let (executable, arguments) =
                    configuration.networkNamespace.map {
                        ("ip", ["netns", "exec", $0, configuration.qemu] + commandLine.arguments)
                    }
                    ?? (configuration.qemu, commandLine.arguments)
                let status = try await runTool(executable, arguments, log: paths.log, timeout: .seconds(60))
                if status == 0 { break }
                let output = (try? String(contentsOfFile: paths.log, encoding: .utf8)) ?? ""
                // Another process may have taken the forwarded port since it was picked: pick again.
                if case .user = network, output.contains("host forwarding"), attempt < 3 {
                    record.port = try Networking.freePort()
                    network = .user(hostPort: record.port!, guestPort: spec.guestPort)
                    try JSONFile.write(record, to: paths.metadata)
                    continue
                }
                let lines = output.split(separator: "\n").suffix(5).joined(separator: " | ")
                throw QEMUError.launch(
                    name, "qemu-system-x86_64 exited with status \(status): \(lines.isEmpty ? "no output" : lines)")
            }
            guard Self.pid(paths) != nil else { throw QEMUError.launch(name, "QEMU wrote no pid file") }
            return record
        } catch {
            await stopProcess(paths)
            if let tap = record.tap {
                await Networking.deleteTAP(tap, namespace: configuration.networkNamespace, log: "/dev/null")
            }
            removeDirectory(paths.directory)
            throw error as? QEMUError ?? .launch(name, "\(error)")
        }
    }

    /// Pre-creates the parent's RAM file 0600 and sparse, so QEMU maps it instead of creating
    /// one with its own permissions.
    func createMemoryFile(_ path: String, size: Int, creatingDirectory directory: String) throws(QEMUError) {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .io("cannot create \(directory): \(error.localizedDescription)")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw .refused("a VM already uses \(path)") }
            throw .io("cannot create \(path): \(errnoText())")
        }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size) << 20) == 0 else { throw .io("cannot size \(path): \(errnoText())") }
    }

    /// The network settings the agent applies in bridge mode; nil in user mode.
    nonisolated func bridgeIdentityNetwork(_ record: VMRecord) throws(QEMUError) -> CloneIdentity.Network? {
        guard record.spec.network.mode == .bridge, let address = record.address,
            let subnet = record.spec.network.cidr.flatMap(IPv4Subnet.init)
        else { return nil }
        return CloneIdentity.Network(
            mac: record.mac, address: address, prefix: subnet.prefix,
            gateway: record.spec.network.gateway ?? subnet.firstHost)
    }

    /// The end of the guest's console, to make a failed boot explainable: its last lines, from
    /// the ring buffer QEMU keeps (empty once QEMU is gone; `qemu.log` then says why).
    func consoleTail(_ paths: VMPaths) async -> String {
        guard let pid = Self.pid(paths), ProcessTable.isOurs(pid, marker: paths.qmpSocket),
            let qmp = try? await QMPClient.connect(path: paths.qmpSocket, timeout: .seconds(2))
        else { return "" }
        defer { qmp.close() }
        guard
            let text = try? await qmp.execute(
                "ringbuf-read",
                arguments: [
                    "device": "console", "size": .number(Double(QEMUCommandLine.consoleBytes)), "format": "utf8",
                ]
            ).stringValue, !text.isEmpty
        else { return "" }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).suffix(3).joined(separator: " | ")
        return " (console: \(lines))"
    }
}
