import FlockGuestKit
import Glibc

/// The guest end of the virtio-serial port `org.flock.agent`.
///
/// The fd stays open for the agent's whole life. When no host is connected (before QEMU's
/// chardev gets a client, or after a snapshot restore into a new QEMU process whose socket is
/// new) the kernel reports POLLHUP/EOF and refuses writes with EAGAIN; the agent just waits and
/// polls again. Only real device errors (the port vanished) make it close and rediscover.
struct AgentPort {
    static let portName = "org.flock.agent"

    let fd: Int32
    let path: String

    /// Finds the port by name: the udev-style symlink if present, else a scan of sysfs.
    static func discover() -> String? {
        let link = "/dev/virtio-ports/" + portName
        if access(link, F_OK) == 0 { return link }
        for name in Files.entries("/sys/class/virtio-ports") ?? [] where name.hasPrefix("vport") {
            if Files.readTrimmed("/sys/class/virtio-ports/\(name)/name") == portName { return "/dev/" + name }
        }
        return nil
    }

    static func open(_ path: String) -> AgentPort? {
        let fd = Glibc.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        return fd >= 0 ? AgentPort(fd: fd, path: path) : nil
    }

    enum ReadResult {
        case data([UInt8])
        /// Nothing arrived within the timeout; a partial line stays buffered.
        case waiting
        /// No host on the other end (EOF/HUP/EIO): wait and retry.
        case disconnected
        /// The device itself failed: reopen.
        case broken(Int32)
    }

    /// Waits up to `timeoutMs` for input and reads what is there.
    func read(timeoutMs: Int32) -> ReadResult {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, timeoutMs)
        if ready < 0 { return errno == EINTR ? .waiting : .broken(errno) }
        if ready == 0 { return .waiting }
        if entry.revents & Int16(POLLNVAL) != 0 { return .broken(EBADF) }
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n > 0 { return .data(Array(buffer[0..<n])) }
        if n == 0 { return .disconnected }  // EOF: the host is not connected
        switch errno {
        case EAGAIN, EINTR: return .waiting
        case EIO: return .disconnected
        default: return .broken(errno)
        }
    }

    /// Writes one reply line, retrying for up to about two seconds while the port refuses.
    ///
    /// A request can arrive before the guest has processed the host's "port open" notice (data
    /// and control messages travel on different virtqueues), so for a moment the kernel still
    /// says "no host" and refuses the reply with EAGAIN. poll() cannot wait that out (it reports
    /// POLLHUP at once while no host is connected), so the wait is a short sleep per attempt.
    /// If no host shows up, the reply is dropped: the host never relies on replies it was not
    /// connected to receive.
    func writeLine(_ text: String) -> Bool {
        Files.writeAll(fd, Array((text + "\n").utf8), attempts: 200) == nil
    }

    func close() { _ = Glibc.close(fd) }
}
