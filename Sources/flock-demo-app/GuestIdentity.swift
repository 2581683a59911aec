import Glibc

/// The clone identity flock-agent publishes in /run/flock/identity.json. Cached, and re-read
/// only when the file's inode or mtime changes (the agent replaces it by rename), so /stats
/// stays cheap yet shows a new identity on the very next request after the agent's ack.
final class GuestIdentity: @unchecked Sendable {
    static let path = "/run/flock/identity.json"

    struct Snapshot {
        var cloneID: String?
        var generation: Int64
    }

    private let mutex = Mutex()
    private var stamp: (ino_t, Int, Int, off_t)?
    private var cached = Snapshot(cloneID: nil, generation: 0)

    func current() -> Snapshot {
        var info = stat()
        guard stat(Self.path, &info) == 0 else {
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
        guard let bytes = readSmallFile(path), let object = JSONText.parseFlatObject(bytes) else {
            return Snapshot(cloneID: nil, generation: 0)
        }
        var snapshot = Snapshot(cloneID: nil, generation: 0)
        if case .string(let id) = object["clone_id"] { snapshot.cloneID = id }
        if case .literal(let text) = object["generation"], let generation = Int64(text) {
            snapshot.generation = generation
        }
        return snapshot
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func bootID() -> String {
        let text = String(decoding: readSmallFile("/proc/sys/kernel/random/boot_id") ?? [], as: UTF8.self)
        return text.trimmingSpaces().filter { $0 != "\n" }
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
