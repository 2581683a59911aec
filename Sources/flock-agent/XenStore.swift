import FlockGuestKit
import Glibc

/// A minimal xenstore client over the guest kernel's `/dev/xen/xenbus` device, speaking the
/// wire protocol of `xen/io/xs_wire.h`: every message is a 16-byte header of four little-endian
/// uint32 (type, req_id, tx_id, len) followed by `len` bytes of payload (at most 4096).
///
/// Only what the agent needs: read and write outside transactions, no watches (the agent
/// polls). Paths without a leading `/` are relative to the domain's own
/// `/local/domain/<domid>/`, which xenstored resolves per request, so they keep working after a
/// restore gives the domain a new domid.
final class XenStore {
    static let devicePath = "/dev/xen/xenbus"
    static let payloadMax = 4096

    /// Message types from `enum xsd_sockmsg_type`.
    enum MessageType: UInt32 {
        case read = 2
        case write = 11
        case error = 16
    }

    enum Failure: Error, Equatable {
        /// The key does not exist (`ENOENT`).
        case noEntry
        /// xenstored answered with another error, e.g. `EACCES`.
        case refused(String)
        /// The device failed or did not answer in time: reopen.
        case io(String)
    }

    let fd: Int32
    private var nextRequestID: UInt32 = 1

    private init(fd: Int32) { self.fd = fd }

    /// True on a Xen guest whose kernel offers the xenbus device.
    static var isAvailable: Bool {
        Files.readTrimmed("/sys/hypervisor/type") == "xen" && access(devicePath, R_OK | W_OK) == 0
    }

    static func open() -> XenStore? {
        let fd = Glibc.open(devicePath, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        return fd >= 0 ? XenStore(fd: fd) : nil
    }

    func close() { _ = Glibc.close(fd) }

    /// The value of `path`, as bytes.
    func read(_ path: String) -> Result<[UInt8], Failure> {
        request(.read, payload: Array(path.utf8) + [0])
    }

    /// Sets `path` to `value`, creating it and its parents.
    func write(_ path: String, _ value: [UInt8]) -> Result<Void, Failure> {
        request(.write, payload: Array(path.utf8) + [0] + value).map { _ in () }
    }

    // MARK: - Wire

    private func request(_ type: MessageType, payload: [UInt8]) -> Result<[UInt8], Failure> {
        guard payload.count <= Self.payloadMax else { return .failure(.refused("E2BIG")) }
        let id = nextRequestID
        nextRequestID = nextRequestID &+ 1
        var message: [UInt8] = []
        message.reserveCapacity(16 + payload.count)
        for word in [type.rawValue, id, 0, UInt32(payload.count)] { message += Self.littleEndian(word) }
        message += payload
        if let failure = writeAll(message) { return .failure(failure) }
        // Replies come in request order; anything else (a stray watch event, a late reply to a
        // request that timed out) is skipped, boundedly.
        for _ in 0..<8 {
            guard case .success(let header) = readExactly(16) else { return .failure(.io("reply header")) }
            let replyType = Self.word(header, 0)
            let replyID = Self.word(header, 4)
            let length = Int(Self.word(header, 12))
            guard length <= Self.payloadMax else { return .failure(.io("reply of \(length) bytes")) }
            guard case .success(let body) = readExactly(length) else { return .failure(.io("reply body")) }
            guard replyID == id else { continue }
            if replyType == MessageType.error.rawValue {
                let name = String(decoding: body.prefix(while: { $0 != 0 }), as: UTF8.self)
                return .failure(name == "ENOENT" ? .noEntry : .refused(name))
            }
            guard replyType == type.rawValue else { return .failure(.io("reply type \(replyType)")) }
            return .success(body)
        }
        return .failure(.io("no reply to request \(id)"))
    }

    private func writeAll(_ bytes: [UInt8]) -> Failure? {
        Files.writeAll(fd, bytes, attempts: 100).map { .io("write: errno \($0)") }
    }

    /// Reads exactly `count` bytes, waiting at most about 2 s in total.
    private func readExactly(_ count: Int) -> Result<[UInt8], Failure> {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var buffer = [UInt8](repeating: 0, count: max(count, 1))
        var waits = 0
        while out.count < count {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, count - out.count) }
            if n > 0 {
                out += buffer[0..<n]
                continue
            }
            if n == 0 { return .failure(.io("EOF")) }
            guard errno == EAGAIN || errno == EINTR else { return .failure(.io("read: errno \(errno)")) }
            waits += 1
            guard waits <= 20 else { return .failure(.io("timed out")) }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, 100)
        }
        return .success(out)
    }

    private static func littleEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value & 0xff), UInt8((value >> 8) & 0xff), UInt8((value >> 16) & 0xff), UInt8(value >> 24)]
    }

    private static func word(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
}
