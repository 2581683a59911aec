import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Blocking reads from a pipe (the session's stdin, or ssh's stdout on the client), buffered, for
/// a stream that mixes JSON lines with raw bytes: `readLine` and `readExactly` share one buffer,
/// so bytes read past a line are never lost. Callers run it off Swift's cooperative pool.
final class ByteReader: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    init(fd: Int32) { self.fd = fd }

    /// The next line without its newline; nil at end of stream. A line longer than `limit` is an
    /// error (a peer that is not speaking the protocol), and what was read of it is skipped.
    func readLine(limit: Int = 16 << 20) throws(HostError) -> [UInt8]? {
        var scanned = start
        while true {
            if let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                compact()
                return line
            }
            scanned = buffer.count
            guard buffer.count - start <= limit else {
                start = buffer.count
                throw .protocolViolation("a request line is longer than \(limit) bytes")
            }
            let more = atEnd ? false : try fill()
            if !more {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                return line
            }
        }
    }

    /// Hands exactly `count` bytes to `body`, in chunks as they arrive; an error if the stream ends first.
    func readExactly(_ count: Int, _ body: (UnsafeRawBufferPointer) throws(HostError) -> Void) throws(HostError) {
        var left = count
        while left > 0 {
            if start == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                start = 0
                guard try fill() else { throw .transfer("the stream ended \(left) bytes before the data did") }
            }
            let take = min(left, buffer.count - start)
            let window = buffer[start..<(start + take)]
            var failure: HostError?
            window.withUnsafeBytes { raw in
                do throws(HostError) { try body(raw) } catch { failure = error }
            }
            if let failure { throw failure }
            start += take
            left -= take
        }
        compact()
    }

    /// Reads once more into the buffer; false at end of stream.
    private func fill() throws(HostError) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                buffer.append(contentsOf: chunk[..<count])
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

    private func compact() {
        if start > (1 << 20) || start == buffer.count {
            buffer.removeFirst(start)
            start = 0
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
