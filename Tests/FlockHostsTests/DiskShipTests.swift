import FlockCore
import FlockHostRig
import FlockQEMU
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockHosts

extension HostsTests {
    /// A parent with a disk: its snapshot ships with its frozen layer, the layers under it and the
    /// image, which the host keeps once by digest; clones there run on overlays of the shipped
    /// chain, re-pointed at the host's copies, and serve warm. The parent's next snapshot ships
    /// its layers but not the image again, and the image goes when the last snapshot on it does.
    @Test func aParentWithADiskShipsItsLayersAndTheImageOnce() async throws {
        let scratch = try Scratch(prefix: "flock-disk")
        let keys = try await RigKeys(directory: scratch.dir.path)
        try await Self.withTopology(
            [68], scratch: scratch, start: { try await $0.startSSHD(clientKey: try keys.publicKey) }
        ) { parentNet, root, hosts in
            try await runDiskShip(scratch: scratch, keys: keys, parentNet: parentNet, root: root, host: hosts[0])
        }
    }

    private func runDiskShip(
        scratch: Scratch, keys: RigKeys, parentNet: ParentNetwork, root: String, host: NamespaceHost
    ) async throws {
        let image = "\(root)/image.qcow2"
        #expect(
            try await ChildProcess.run("qemu-img", ["create", "-q", "-f", "qcow2", image, "64M"], log: "/dev/null") == 0
        )
        let (driver, parent) = try await Self.warmParent(
            pool: "dp", root: root, parentNet: parentNet, keys: ["k1"], disk: image, snapshotMaxAge: .seconds(1))
        let remote = RemoteHost(target: try Self.target(host, keys: keys), logPath: scratch.path("h.log"))
        let network = NetworkSpec(mode: .bridge, bridge: host.bridge, cidr: host.vmSubnet, gateway: host.vmGateway)

        let first = try await driver.exportSnapshot(ofParent: parent.name)
        #expect(first.files.map(\.name) == ["memory", "state", "layer-0.qcow2", "image"], "\(first.files)")
        let shipped = try await remote.ensureSnapshot(first, logPath: scratch.path("ship.log"))
        #expect(shipped.shipped)
        let digest = try SparseFile.sha256(of: image)
        let kept = "\(host.stateRoot)/images/\(digest).qcow2"
        var files = try await host.filesInStateRoot()
        #expect(files.contains(kept), "\(files)")
        #expect(files.contains("\(host.stateRoot)/snapshots/\(first.record.id)/layer-0.qcow2"), "\(files)")
        #expect(!files.contains { $0.contains("/incoming/") || $0.hasSuffix("rebase.log") }, "\(files)")

        let one = try await remote.clone(
            snapshot: first.record.id, pool: "dp", names: ["flock-dp-a1"], network: network)
        #expect(one.failed.isEmpty, "\(one.failed)")
        let address = try #require(one.started.first?.address)
        let hit = try await PlainHTTP.get(host: address, port: 8080, "/item/k1", timeout: .seconds(30))
        #expect(hit.headers["x-cache"] == "hit", "a remote clone of a parent with a disk serves warm")
        // Its overlay sits on the shipped layer, which sits on the host's copy of the image.
        let chain = try await host.run([
            "qemu-img", "info", "-U", "--backing-chain", "--output=json",
            "\(host.stateRoot)/vms/flock-dp-a1/disk.qcow2",
        ])
        let layers = try #require(try JSONSerialization.jsonObject(with: Data(chain.utf8)) as? [[String: Any]])
        #expect(
            layers.map { $0["filename"] as? String } == [
                "\(host.stateRoot)/vms/flock-dp-a1/disk.qcow2",
                "\(host.stateRoot)/snapshots/\(first.record.id)/layer-0.qcow2", kept,
            ], "\(chain)")

        // The next snapshot (the first is over snapshot_max_age) ships two layers, not the image.
        try await Task.sleep(for: .milliseconds(1200))
        let next = try await driver.exportSnapshot(ofParent: parent.name)
        #expect(next.record.id != first.record.id)
        #expect(next.files.map(\.name) == ["memory", "state", "layer-0.qcow2", "layer-1.qcow2", "image"])
        let imageBytes = try SnapshotSender.plan(next).manifest.files.first { $0.name == "image" }?.dataBytes ?? 0
        let again = try await remote.ensureSnapshot(next, logPath: scratch.path("ship.log"))
        let layersBytes = try SnapshotSender.plan(next).manifest.dataBytes - imageBytes
        #expect(again.shipped && again.bytes < layersBytes + (1 << 20), "the image is held: \(again)")
        let two = try await remote.clone(snapshot: next.record.id, pool: "dp", names: ["flock-dp-a2"], network: network)
        #expect(two.failed.isEmpty, "\(two.failed)")
        #expect(
            try await PlainHTTP.get(host: try #require(two.started.first?.address), port: 8080, "/healthz").status
                == 200)

        // The last clone of each snapshot takes it along, and the last snapshot the image.
        try await remote.destroy("flock-dp-a1")
        files = try await host.filesInStateRoot()
        #expect(files.contains(kept), "the second snapshot still sits on the image: \(files)")
        try await remote.destroy("flock-dp-a2")
        files = try await host.filesInStateRoot()
        #expect(!files.contains { $0.contains("/snapshots/") || $0.contains("/images/") }, "\(files)")

        await driver.releaseExport(first.record.id)
        await driver.releaseExport(next.record.id)
        await remote.close()
        try await driver.stopParent(name: parent.name)
    }
}
