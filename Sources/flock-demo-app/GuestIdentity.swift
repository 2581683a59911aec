import FlockGuestKit
import Glibc

/// The clone identity flock-agent publishes in /run/flock/identity.json (`IdentityFile`). Cached, and re-read
/// only when the file's inode or mtime changes (the agent replaces it by rename), so /stats
/// stays cheap yet shows a new identity on the very next request after the agent's ack.
final class GuestIdentity: @unchecked Sendable {
    struct Snapshot {
        var cloneID: String?
        var generation: Int64
    }

    private let mutex = Mutex()
    private var stamp: (ino_t, Int, Int, off_t)?
    private var cached = Snapshot(cloneID: nil, generation: 0)

    func current() -> Snapshot {
        var info = stat()
        guard stat(IdentityFile.path, &info) == 0 else {
            return mutex.withLock {
                stamp = nil
                cached = Snapshot(cloneID: nil, generation: 0)
                return cached
            }
        }
        let newStamp = (info.st_ino, info.st_mtim.tv_sec, info.st_mtim.tv_nsec, info.st_size)
        return mutex.withLock {
            if let old = stamp, old == newStamp { return cached }
            stamp = newStamp
            cached = Self.read()
            return cached
        }
    }

    private static func read() -> Snapshot {
        let file = IdentityFile.load()
        return Snapshot(cloneID: file?.cloneID, generation: file?.generation ?? 0)
    }

    /// Fresh bytes from /dev/urandom as hex: after the agent reseeds, siblings must differ here.
    static func randomHex(count: Int = 32) -> String? {
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n == count else { return nil }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
