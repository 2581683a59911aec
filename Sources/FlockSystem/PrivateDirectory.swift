import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why a directory cannot hold a driver's private state, with what to run to fix it.
public struct PrivateDirectoryError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// Creates `path` and its parents mode 0700, or checks that an existing `path` is private: a
/// directory (not a symbolic link) owned by the user Flock runs as, with no access for group or
/// others.
///
/// A driver's state root holds guest memory and snapshots. An existing directory is refused
/// rather than chmodded: a root that someone else owns (or a link someone planted at a
/// predictable path such as `/dev/shm/flock-qemu-<uid>`) may already be open to them, so fixing
/// its mode would hide the problem, not solve it.
public func createPrivateDirectory(_ path: String) throws(PrivateDirectoryError) {
    var info = stat()
    if lstat(path, &info) != 0 {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw PrivateDirectoryError(description: "cannot create \(path): \(error.localizedDescription)")
        }
        guard lstat(path, &info) == 0 else {
            throw PrivateDirectoryError(description: "cannot inspect \(path): \(String(cString: strerror(errno)))")
        }
    }
    if let problem = privateDirectoryProblem(path, info) { throw problem }
}

/// What is wrong with an existing directory for private state, or nil if nothing.
func privateDirectoryProblem(_ path: String, _ info: stat) -> PrivateDirectoryError? {
    let type = info.st_mode & S_IFMT
    let user = geteuid()
    if type == S_IFLNK {
        return PrivateDirectoryError(
            description: "\(path) is a symbolic link, not a directory: Flock keeps guest memory only in a directory "
                + "it owns; remove the link (rm \(path)) or choose another state root")
    }
    guard type == S_IFDIR else {
        return PrivateDirectoryError(
            description: "\(path) exists but is not a directory; remove it or choose another state root")
    }
    guard info.st_uid == user else {
        return PrivateDirectoryError(
            description: "\(path) is owned by uid \(info.st_uid), not by uid \(user) that runs Flock: another user "
                + "may read the guest memory in it; remove it if it is stale (as its owner or root: rm -r \(path)), "
                + "hand it over (as root: chown \(user) \(path)), or choose another state root")
    }
    let mode = info.st_mode & 0o777
    guard mode & 0o077 == 0 else {
        return PrivateDirectoryError(
            description: "\(path) has mode \(String(mode, radix: 8)): group or others may read the guest memory "
                + "in it; run chmod 700 \(path)")
    }
    return nil
}
