import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Blocking reads from a pipe (the session's stdin, or ssh's stdout on the client), buffered, for
/// a stream that mixes JSON lines with raw bytes: `readLine` and `readExactly` share one buffer,
/// so bytes read past a line are never lost. Callers run it off Swift's cooperative pool.
///
/// The buffer is allocated once and read into in place: a transfer moves hundreds of MiB
/// through it in pipe-sized reads, so nothing per read may allocate or copy more than it got.
final class ByteReader: @unchecked Sendable {
    private let fd: Int32
    private let storage: UnsafeMutableRawBufferPointer
    /// Unread bytes are `storage[start..<end]`.
    private var start = 0
    private var end = 0
    private var atEnd = false

    init(fd: Int32, capacity: Int = 1 << 20) {
        self.fd = fd
        storage = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    /// The next line without its newline; nil at end of stream. A line longer than `limit` is an
    /// error (a peer that is not speaking the protocol), and what was read of it is skipped.
    func readLine(limit: Int = 16 << 20) throws(HostError) -> [UInt8]? {
        var line: [UInt8] = []
        while true {
            let unread = UnsafeRawBufferPointer(rebasing: storage[start..<end])
            if let newline = unread.firstIndex(of: UInt8(ascii: "\n")) {
                line.append(contentsOf: unread[..<newline])
                start += newline - unread.startIndex + 1
                return line
            }
            line.append(contentsOf: unread)
            start = end
            guard line.count <= limit else { throw .protocolViolation("a line is longer than \(limit) bytes") }
            guard try fill() else { return line.isEmpty ? nil : line }
        }
    }

    /// Hands exactly `count` bytes to `body`, in chunks as they arrive; an error if the stream ends first.
    func readExactly(_ count: Int, _ body: (UnsafeRawBufferPointer) throws(HostError) -> Void) throws(HostError) {
        var left = count
        while left > 0 {
            if start == end {
                guard try fill() else { throw .transfer("the stream ended \(left) bytes before the data did") }
            }
            let take = min(left, end - start)
            try body(UnsafeRawBufferPointer(rebasing: storage[start..<(start + take)]))
            start += take
            left -= take
        }
    }

    /// Reads once more into the buffer (which must be drained); false at end of stream.
    private func fill() throws(HostError) -> Bool {
        start = 0
        end = 0
        guard !atEnd else { return false }
        while true {
            let count = read(fd, storage.baseAddress, storage.count)
            if count > 0 {
                end = count
                return true
            }
            if count == 0 {
                atEnd = true
                return false
            }
            if errno == EINTR { continue }
            throw .io("read: \(errnoText())")
        }
    }
}

/// Blocking writes of whole buffers to a pipe, serialized so that lines written by concurrent
/// answers never interleave.
final class ByteWriter: Sendable {
    private let fd: Int32
    private let lock = NSLock()

    /// A write to a pipe whose reader is gone (ssh exited, the session's sshd died) must fail
    /// with EPIPE, not kill this process by SIGPIPE; Flock's processes have no use for SIGPIPE.
    init(fd: Int32) {
        self.fd = fd
        signal(SIGPIPE, SIG_IGN)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(HostError) {
        lock.lock()
        defer { lock.unlock() }
        try Self.writeAll(fd, bytes)
    }

    func writeLine(_ data: Data) throws(HostError) {
        var line = data
        line.append(UInt8(ascii: "\n"))
        var failure: HostError?
        line.withUnsafeBytes { raw in
            do throws(HostError) { try write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(HostError) {
        var offset = 0
        while offset < bytes.count {
            let count = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if count > 0 {
                offset += count
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                throw .disconnected("write: \(count < 0 ? errnoText() : "nothing written")")
            }
        }
    }
}
