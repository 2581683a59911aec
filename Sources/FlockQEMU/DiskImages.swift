/// qcow2 overlays: every VM writes to its own overlay, never to a shared image.
///
/// A parent runs on an overlay of the spec's image. At each snapshot its active layer is
/// frozen (QMP `blockdev-snapshot-sync` moves the parent onto a new overlay), and every clone of
/// that snapshot gets its own overlay on the frozen layer, deleted with the clone. Layers no
/// snapshot uses any more are streamed into the parent's active one and deleted
/// (`QEMUDriver+Compaction.swift`), so the chain does not grow with every snapshot.
enum DiskImages {
    /// qcow2 by extension, raw otherwise (the spec documents this).
    static func format(_ path: String) -> String { path.hasSuffix(".qcow2") ? "qcow2" : "raw" }

    /// Creates a qcow2 overlay at `path` backed by `backing`, with `qemu-img` (argument array).
    static func createOverlay(_ path: String, backing: String, log: String) async throws(QEMUError) {
        let status = try await runTool(
            "qemu-img", ["create", "-q", "-f", "qcow2", "-b", backing, "-F", format(backing), path], log: log,
            timeout: .seconds(30))
        guard status == 0 else {
            throw .launch(path, "qemu-img could not create an overlay on \(backing) (status \(status); see \(log))")
        }
    }
}
