import FlockCore
import FlockHostRig
import FlockQEMU
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockHosts

extension HostsTests {
    /// A parent on the root "host" is snapshotted once, the snapshot ships to host A once, and two
    /// clones restored there serve a warmed key from the cache over routed bridge networking.
    /// Host B, whose VMs use another CPU model, is refused saying so. A session whose sshd dies or
    /// whose link goes down fails its pending request within the deadline, and reconnects after.
    @Test func snapshotShipsOnceAndRemoteClonesServeWarm() async throws {
        let scratch = try Scratch(prefix: "flock-hosts")
        let keys = try await RigKeys(directory: scratch.dir.path)
        try await Self.withTopology(
            [62, 63], scratch: scratch,
            start: { host in
                if host.index == 62 {
                    try await host.startSSHD(clientKey: try keys.publicKey)
                } else {
                    // B is pinned by command= in authorized_keys, as an operator would, with another -cpu.
                    try await host.startSSHD(
                        clientKey: try keys.publicKey,
                        forcedCommand: "\(try Self.flockctl) host serve --state \(host.stateRoot) --cpu qemu64")
                }
            }
        ) { parentNet, root, hosts in
            try await run(
                scratch: scratch, keys: keys, parentNet: parentNet, root: root, hostA: hosts[0], hostB: hosts[1])
        }
    }

    private func run(
        scratch: Scratch, keys: RigKeys, parentNet: ParentNetwork, root: String, hostA: NamespaceHost,
        hostB: NamespaceHost
    ) async throws {
        let (driver, parent) = try await Self.warmParent(
            pool: "hp", root: root, parentNet: parentNet, keys: ["k1", "k2", "k3"])
        let parentAddress = try #require(parent.address)
        #expect(try await PlainHTTP.get(host: parentAddress, port: 8080, "/item/k1").headers["x-cache"] == "hit")

        // Local lazy clone time, the baseline for the remote one.
        let localStart = ContinuousClock.now
        let local = try await driver.clone(
            CloneRequest(pool: "hp", parent: parent.name, mode: .lazy, names: ["flock-hp-local"]))
        let localSeconds = seconds(ContinuousClock.now - localStart)
        #expect(local.failed.isEmpty, "\(local.failed)")

        let exported = try await driver.exportSnapshot(ofParent: parent.name)
        #expect(exported.record.compatibility?.cpuModel == "max")
        #expect(exported.record.compatibility?.machine.hasPrefix("pc-q35-") == true)
        let plan = try SnapshotSender.plan(exported)
        let apparent = plan.manifest.files.reduce(0) { $0 + $1.size }

        let a = RemoteHost(target: try Self.target(hostA, keys: keys), logPath: scratch.path("a.log"))
        let network = NetworkSpec(mode: .bridge, bridge: hostA.bridge, cidr: hostA.vmSubnet, gateway: hostA.vmGateway)
        // A transfer cut short (its deadline kills ssh mid-stream) leaves no partial file, and is retried.
        let interrupted = await #expect(throws: HostError.self) {
            _ = try await a.ensureSnapshot(exported, logPath: scratch.path("a-ship.log"), deadline: .milliseconds(600))
        }
        #expect(interrupted?.code == .timeout, "\(interrupted?.message ?? "")")
        #expect(
            await eventually(timeout: .seconds(10)) {
                ((try? await hostA.filesInStateRoot()) ?? ["?"]).allSatisfy {
                    !$0.contains("/incoming/") && !$0.contains("/snapshots/")
                }
            })
        #expect(try await a.holds(exported.record.id) == false)
        let first = try await a.ensureSnapshot(exported, logPath: scratch.path("a-ship.log"))
        #expect(first.shipped)
        #expect(first.bytes >= plan.manifest.dataBytes && first.bytes <= plan.manifest.dataBytes + (1 << 20))
        #expect(first.bytes < apparent, "only data extents travel: \(first.bytes) of \(apparent)")
        print(
            String(
                format: "hosts: shipped %.1f MiB of data (apparent %.1f MiB) in %.2f s",
                Double(first.bytes) / 1_048_576,
                Double(apparent) / 1_048_576, first.seconds))
        let raw = try await rawSSHSeconds(a.target, bytes: first.bytes, from: exported.files[0].path)
        print(String(format: "hosts: the same bytes through plain ssh … dd of=/dev/null: %.2f s", raw))
        // The host keeps it privately: 0600 files in its own /dev/shm, which this side cannot see.
        #expect(!FileManager.default.fileExists(atPath: hostA.stateRoot + "/snapshots/\(exported.record.id)"))
        let files = try await hostA.filesInStateRoot()
        #expect(files.contains("\(hostA.stateRoot)/snapshots/\(exported.record.id)/memory"), "\(files)")
        #expect(!files.contains { $0.contains("/incoming/") }, "no staging left: \(files)")

        let remoteStart = ContinuousClock.now
        let one = try await a.clone(snapshot: exported.record.id, pool: "hp", names: ["flock-hp-a1"], network: network)
        let remoteSeconds = seconds(ContinuousClock.now - remoteStart)
        #expect(one.failed.isEmpty, "\(one.failed)")
        let a1 = try #require(one.started.first?.address)
        #expect(a1.hasPrefix("10.232.\(hostA.index)."))
        let hit = try await PlainHTTP.get(host: a1, port: 8080, "/item/k1", timeout: .seconds(30))
        #expect(hit.headers["x-cache"] == "hit", "a remote lazy clone's first GET of a warmed key must hit")
        print(String(format: "hosts: remote lazy clone %.2f s, local lazy clone %.2f s", remoteSeconds, localSeconds))

        // The second clone there moves no snapshot: ≤ 1 MiB between the hosts.
        let before = await a.connection.bytesMoved
        let second = try await a.ensureSnapshot(exported, logPath: scratch.path("a-ship.log"))
        let two = try await a.clone(snapshot: exported.record.id, pool: "hp", names: ["flock-hp-a2"], network: network)
        let moved = await a.connection.bytesMoved - before
        #expect(!second.shipped && second.bytes <= 1 << 20 && moved <= 1 << 20, "\(second) \(moved)")
        let a2 = try #require(two.started.first?.address)
        #expect(a2 != a1)
        #expect(
            try await PlainHTTP.get(host: a2, port: 8080, "/item/k2", timeout: .seconds(30)).headers["x-cache"] == "hit"
        )
        // Idempotent by name: the same clone again is the one that runs.
        let again = try await a.clone(
            snapshot: exported.record.id, pool: "hp", names: ["flock-hp-a1"], network: network)
        #expect(again.started.map(\.address) == [a1])
        #expect(Set(try await a.list().map(\.name)) == ["flock-hp-a1", "flock-hp-a2"])

        // Host B's VMs use -cpu qemu64: refused before any data moves, saying what differs.
        let b = RemoteHost(target: try Self.target(hostB, keys: keys), logPath: scratch.path("b.log"))
        #expect(try await b.hello().cpuModel == "qemu64")
        let mismatch = await #expect(throws: HostError.self) {
            _ = try await b.ensureSnapshot(exported, logPath: scratch.path("b-ship.log"))
        }
        #expect(
            mismatch?.message.contains("CPU model max in the snapshot, qemu64 here") == true,
            "\(mismatch?.message ?? "")")
        #expect(try await b.holds(exported.record.id) == false)
        await b.close()

        // The session's sshd dies mid-request: the request fails at once, well within its deadline.
        let pending = Task {
            try await a.clone(
                snapshot: exported.record.id, pool: "hp", names: ["flock-hp-a3"], network: network,
                deadline: .seconds(60))
        }
        try await Task.sleep(for: .milliseconds(300))
        let sessions = hostA.sessionSSHDs()
        #expect(!sessions.isEmpty)
        for pid in sessions { kill(pid, SIGKILL) }
        let dropStart = ContinuousClock.now
        let dropped = await pending.result
        let dropSeconds = seconds(ContinuousClock.now - dropStart)
        guard case .failure(let dropError) = dropped else { Issue.record("the clone survived its session"); return }
        #expect((dropError as? HostError)?.code == .disconnected, "\(dropError)")
        #expect("\(dropError)".contains("the session with root@\(hostA.address):22 dropped"), "\(dropError)")
        #expect(dropSeconds < 10)
        // Reconnects: the next request starts a new session.
        #expect(try await a.hello().vms.count >= 2)

        // The link goes down: a pending request fails by its deadline; after the link is back,
        // requests work again (on the old session or, once ssh gave up on it, a new one).
        try await hostA.setLink(up: false)
        let cutStart = ContinuousClock.now
        let cut = await #expect(throws: HostError.self) { _ = try await a.hello(deadline: .seconds(3)) }
        #expect(seconds(ContinuousClock.now - cutStart) < 5)
        #expect(cut?.code == .timeout || cut?.code == .disconnected, "\(cut?.message ?? "")")
        try await hostA.setLink(up: true)
        #expect(
            await eventuallyRetryingErrors(timeout: .seconds(40), every: .milliseconds(500)) {
                try await a.hello(deadline: .seconds(3)).stateRoot == hostA.stateRoot
            })

        // The clone cut off with its session was still started by the host (the old session
        // finishes what it began): it shows up, and is destroyed like the others.
        _ = await eventuallyRetryingErrors(timeout: .seconds(60), every: .milliseconds(500)) {
            try await a.list().contains { $0.name == "flock-hp-a3" }
        }
        // Clean-up through the protocol; the last clone there takes the snapshot with it.
        for name in ["flock-hp-a1", "flock-hp-a2", "flock-hp-a3"] {
            #expect(
                await eventuallyRetryingErrors(timeout: .seconds(60), every: .milliseconds(500)) {
                    try await a.destroy(name)
                    return true
                })
        }
        #expect(try await a.list().isEmpty)
        #expect(try await a.holds(exported.record.id) == false)
        await a.close()
        await driver.releaseExport(exported.record.id)
        try await driver.destroy(name: "flock-hp-local")
        try await driver.stopParent(name: parent.name)
    }

    /// The baseline: as many bytes through the same ssh options into `dd of=/dev/null`.
    private func rawSSHSeconds(_ target: SSHTarget, bytes: Int, from path: String) async throws -> Double {
        let arguments =
            Array(target.sshArguments.dropLast(target.remoteCommand.count)) + ["dd", "of=/dev/null", "bs=1M"]
        let started = ContinuousClock.now
        let piped = try await ChildProcess.startPiped(target.ssh, arguments, stderr: "/dev/null")
        let source = open(path, O_RDONLY)
        defer { close(source) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var left = bytes
        while left > 0 {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, min($0.count, left)) }
            guard count > 0 else { break }
            _ = buffer.withUnsafeBytes { write(piped.input, $0.baseAddress, count) }
            left -= count
        }
        close(piped.input)
        await piped.process.waitForExit(timeout: .seconds(60))
        close(piped.output)
        return seconds(ContinuousClock.now - started)
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
