import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive `flock(2)` on a lock file, held for as long as the value lives, with the
/// holder's pid written into the file so that a refused process can say who holds it.
///
/// flockd holds one beside its store and one in each hypervisor state root, so that two daemons
/// (or a daemon and `flockctl vm`) never act on the same VMs at once. The kernel drops the lock
/// when the process dies, however it dies, so a crash never leaves a stale lock behind; the
/// descriptor is close-on-exec, so a daemonized QEMU never inherits it.
public final class ExclusiveLock: Sendable {
    /// The lock file.
    public let path: String
    private let descriptor: Int32

    /// Why a lock could not be taken.
    public enum Failure: Error, CustomStringConvertible, Equatable {
        /// Another process holds it; `pid` is what the holder wrote, if it could be read.
        case held(path: String, pid: Int32?)
        case cannotOpen(path: String, reason: String)

        public var description: String {
            switch self {
            case .held(let path, let pid):
                let holder = pid.map { "process \($0)" } ?? "another process"
                return "\(path) is locked by \(holder): only one Flock process may act on it at a time; "
                    + "stop that process first, or give this one its own store and state root"
            case .cannotOpen(let path, let reason):
                return "cannot open the lock file \(path): \(reason)"
            }
        }
    }

    /// Takes the lock without waiting: a lock that is held fails at once with its holder's pid.
    public init(path: String) throws(Failure) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .cannotOpen(path: path, reason: errnoText()) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.readPid(descriptor)
            close(descriptor)
            if code == EWOULDBLOCK { throw .held(path: path, pid: holder) }
            throw .cannotOpen(path: path, reason: errnoText(code))
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        // The file stays: deleting it would race a process that opened it and is about to lock it.
        close(descriptor)
    }

    private static func readPid(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text)
    }
}
