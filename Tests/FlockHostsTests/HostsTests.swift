import FlockCore
import FlockHostRig
import FlockQEMU
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockHosts

/// Real sshd in network namespaces with private /run and /dev/shm, the built flockctl as the
/// remote command, real QEMU (TCG) on both sides; see `HostRig` and `NamespaceHost`.
@Suite(.serialized)
struct HostsTests {
    static var guest: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/.build-guest"
    }

    static var flockctl: String {
        get throws {
            guard let url = BuiltBinary.url("flockctl") else { throw RigError("flockctl is not built") }
            return url.path
        }
    }

    static func target(_ host: NamespaceHost, keys: RigKeys, stateRoot: String? = nil) throws -> SSHTarget {
        host.target(keys: keys, flockctl: try flockctl, stateRoot: stateRoot)
    }

    /// Missing or loose key files, an unknown host key and a state root with `..` are each
    /// refused with a message that says what and where.
    @Test func badConfigurationIsRefusedClearly() async throws {
        let scratch = try Scratch(prefix: "flock-hosts")
        let keys = try await RigKeys(directory: scratch.dir.path)
        let rig = HostRig()
        do {
            let host = try await rig.makeHost(index: 61, directory: scratch.path("a"))
            try await host.startSSHD(clientKey: try keys.publicKey)

            // The good path first, so the refusals below are about what they change.
            let good = RemoteHost(target: try Self.target(host, keys: keys), logPath: scratch.path("good.log"))
            let hello = try await good.hello()
            #expect(hello.stateRoot == host.stateRoot && hello.protocolVersion == HostProtocol.version)
            #expect(
                hello.cores > 0 && hello.memAvailableBytes > 0 && hello.machines["q35"]?.hasPrefix("pc-q35-") == true)
            // A snapshot over ssh, no VM: 100 MiB of data in 1 MiB extents plus the pages of a state file.
            let source = try tmpfsScratch("bad-src")
            defer { try? FileManager.default.removeItem(atPath: source) }
            let exported = try await Self.fakeSnapshot(in: source, dataMiB: 100)
            let shipped = try await good.ensureSnapshot(exported, logPath: scratch.path("ship.log"))
            #expect(shipped.shipped && shipped.bytes >= 100 << 20 && shipped.bytes < 102 << 20)
            #expect(try await good.holds(exported.record.id))
            print(String(format: "hosts: 100 MiB snapshot over ssh (no VM) in %.2f s", shipped.seconds))
            try await good.releaseSnapshot(exported.record.id)
            #expect(try await good.holds(exported.record.id) == false)
            await good.close()

            var missing = try Self.target(host, keys: keys)
            missing.identityFile = scratch.path("nope")
            let missingError = await #expect(throws: HostError.self) {
                _ = try await RemoteHost(target: missing, logPath: scratch.path("m.log")).hello()
            }
            #expect(
                missingError?.message.contains("\(scratch.path("nope")) for root@\(host.address):22 does not exist")
                    == true)

            let loose = scratch.path("loose_key")
            try FileManager.default.copyItem(atPath: keys.identity, toPath: loose)
            chmod(loose, 0o644)
            var looseTarget = try Self.target(host, keys: keys)
            looseTarget.identityFile = loose
            let looseError = await #expect(throws: HostError.self) {
                _ = try await RemoteHost(target: looseTarget, logPath: scratch.path("l.log")).hello()
            }
            #expect(
                looseError?.message.contains("has mode 644; it must be 0600") == true, "\(looseError?.message ?? "")")

            let otherKnown = scratch.path("other_known_hosts")
            try await RigTool.run(
                "ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", scratch.path("other_host_key")])
            let otherLine = try String(contentsOfFile: scratch.path("other_host_key.pub"), encoding: .utf8)
            try "\(host.address) \(otherLine)".write(toFile: otherKnown, atomically: true, encoding: .utf8)
            var unknown = try Self.target(host, keys: keys)
            unknown.knownHostsFile = otherKnown
            let unknownError = await #expect(throws: HostError.self) {
                _ = try await RemoteHost(target: unknown, logPath: scratch.path("u.log")).hello(deadline: .seconds(20))
            }
            let said = unknownError?.message ?? ""
            #expect(
                said.contains("host key of root@\(host.address):22") && said.contains(otherKnown)
                    && said.contains("never turns StrictHostKeyChecking off"), "\(said)")

            let dotted = RemoteHost(
                target: try Self.target(host, keys: keys, stateRoot: "/dev/shm/../etc"), logPath: scratch.path("d.log"))
            let dottedError = await #expect(throws: HostError.self) { _ = try await dotted.hello() }
            #expect(
                dottedError?.message.contains("state root '/dev/shm/../etc' must not contain '.' or '..'") == true,
                "\(dottedError?.message ?? "")")
            await dotted.close()
        } catch {
            await rig.destroy()
            throw error
        }
        await rig.destroy()
    }
}

extension HostsTests {
    /// Namespace hosts at `indexes`, each started by `start` (sshd), and the parent's network, for
    /// `body` with a tmpfs state root for the parent's driver; all torn down after, even on failure.
    static func withTopology(
        _ indexes: [Int], scratch: Scratch, start: (NamespaceHost) async throws -> Void,
        _ body: (ParentNetwork, String, [NamespaceHost]) async throws -> Void
    ) async throws {
        let rig = HostRig()
        let root = try tmpfsScratch("hosts-parent")
        ExitCleanup.register(root)
        func tearDown() async {
            await rig.destroy()
            try? FileManager.default.removeItem(atPath: root)
        }
        do {
            let parentNet = try await rig.makeParentNetwork()
            var hosts: [NamespaceHost] = []
            for index in indexes {
                let host = try await rig.makeHost(index: index, directory: scratch.path("host\(index)"))
                hosts.append(host)
                try await start(host)
            }
            try await body(parentNet, root, hosts)
        } catch {
            await tearDown()
            throw error
        }
        await tearDown()
    }

    /// The parent's QEMU driver on the root "host", bridged into `parentNet`, and a warm parent
    /// of pool `pool` whose cache holds `keys`, with `disk` attached when given.
    static func warmParent(
        pool: String, root: String, parentNet: ParentNetwork, keys: [String], disk: String? = nil,
        snapshotMaxAge: Duration = .seconds(600)
    ) async throws -> (QEMUDriver, VMRecord) {
        let driver = QEMUDriver(
            configuration: QEMUDriverConfiguration(
                stateRoot: root, snapshotMaxAge: snapshotMaxAge, quitTimeout: .seconds(3),
                networkNamespace: parentNet.namespace, logger: LineLogHandler.logger(label: "test") { _ in }))
        var spec = VMSpec(
            name: "flock-\(pool)-parent", pool: pool, kernel: guest + "/vmlinuz", initrd: guest + "/initrd.img",
            append: "console=ttyS0 quiet flock.miss_cost_ms=200 flock.ip=none", memoryMiB: 256, cpus: 1,
            accelerator: .tcg)
        spec.disk = disk
        spec.network = parentNet.network
        let parent = try await driver.startParent(spec)
        let address = try #require(parent.address)
        for key in keys {
            _ = try await PlainHTTP.get(host: address, port: 8080, "/item/\(key)", timeout: .seconds(30))
        }
        return (driver, parent)
    }
}
