import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A host's state root and the directories Flock keeps in it. The remote side acts on nothing
/// outside it: requests carry names (VMs, snapshots) and file roles, never paths, and the root
/// itself must be a plain absolute path with no symbolic link and no `.` or `..` in it, so that
/// what the operator pinned is what is used.
struct HostStateRoot: Sendable {
    let path: String

    init(_ given: String) throws(HostError) {
        guard given.hasPrefix("/") else {
            throw .configuration("state root '\(given)' must be an absolute path (e.g. /run/flock/host)")
        }
        let components = given.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard !components.contains(".."), !components.contains(".") else {
            throw .configuration("state root '\(given)' must not contain '.' or '..' components")
        }
        guard
            given.unicodeScalars.allSatisfy({
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || "/._-".unicodeScalars.contains($0)
            })
        else {
            throw .configuration("state root '\(given)' must be a path of [A-Za-z0-9/._-] (it is passed to QEMU)")
        }
        let trimmed = given.count > 1 && given.hasSuffix("/") ? String(given.dropLast()) : given
        do {
            try createPrivateDirectory(trimmed)
        } catch {
            throw .configuration("state root '\(given)' cannot be used: \(error)")
        }
        guard let resolved = realpath(trimmed, nil) else {
            throw .configuration("state root '\(given)' cannot be resolved: \(errnoText())")
        }
        defer { free(resolved) }
        let real = String(cString: resolved)
        guard real == trimmed else {
            throw .configuration(
                "state root '\(given)' goes through a symbolic link (it resolves to \(real)); name \(real) itself")
        }
        path = real
    }

    var incoming: String { "\(path)/incoming" }
    /// Disk images, one per digest, that shipped snapshots' layers sit on.
    var images: String { "\(path)/images" }
    /// Where the image with this SHA-256 is kept; the extension tells QEMU its format.
    func image(_ sha256: String, qcow2: Bool) -> String { "\(images)/\(sha256).\(qcow2 ? "qcow2" : "raw")" }

    /// Creates the directories a transfer writes to, 0700.
    func prepare() throws(HostError) {
        for directory in ["\(path)/snapshots", incoming, images] {
            do {
                try createPrivateDirectory(directory)
            } catch {
                throw .io("cannot create \(directory): \(error)")
            }
        }
    }

    /// Deletes what interrupted transfers left: staging directories whose writer is gone (its
    /// lock is free). A transfer under way holds its lock, so a second session never removes it.
    func sweepInterruptedTransfers(log: (String) -> Void) {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: incoming)) ?? []
        for entry in entries {
            let directory = "\(incoming)/\(entry)"
            guard (try? ExclusiveLock(path: "\(directory)/lock")) != nil else { continue }
            try? FileManager.default.removeItem(atPath: directory)
            log("removed the interrupted transfer \(entry)")
        }
    }

    /// Deletes the images no snapshot here sits on any more, unless a transfer is under way (it
    /// may have been told the host holds one).
    func sweepUnusedImages(inUse: Set<String>, log: (String) -> Void) {
        let transfers = (try? FileManager.default.contentsOfDirectory(atPath: incoming)) ?? []
        guard transfers.isEmpty else { return }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: images)) ?? []
        for entry in entries where !inUse.contains("\(images)/\(entry)") {
            try? FileManager.default.removeItem(atPath: "\(images)/\(entry)")
            log("removed the image \(entry), which no snapshot here uses any more")
        }
    }
}
