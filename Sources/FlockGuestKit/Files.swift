import Glibc

/// Small file helpers over raw syscalls; everything returns nil/false instead of trapping
/// because /proc, /sys and /run can all be missing or odd in a freshly cloned guest.
public enum Files {
    public static func read(_ path: String, maxBytes: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while out.count < maxBytes {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    public static func readTrimmed(_ path: String) -> String? {
        guard let bytes = read(path, maxBytes: 4096) else { return nil }
        var text = String(decoding: bytes, as: UTF8.self)
        while let last = text.last, last == "\n" || last == " " || last == "\r" || last == "\t" { text.removeLast() }
        return text
    }

    /// Writes to `path.tmp` then renames over `path`, so a reader sees the old or the new file,
    /// never a torn one.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) -> Bool {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { return false }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return write(fd, base + written, raw.count - written)
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                close(fd)
                unlink(temp)
                return false
            }
            written += n
        }
        guard fsync(fd) == 0 || errno == EINVAL else {
            close(fd)
            unlink(temp)
            return false
        }
        close(fd)
        guard rename(temp, path) == 0 else {
            unlink(temp)
            return false
        }
        return true
    }

    /// Replaces the contents of the existing file `path` in place (following a symlink, keeping its
    /// owner and mode), for system files such as `/etc/hostname` that an image may have linked
    /// elsewhere, where a rename would replace the link instead.
    public static func overwrite(_ path: String, _ bytes: [UInt8]) -> Bool {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return writeAll(fd, bytes, attempts: 10) == nil
    }

    /// Writes all of `bytes` to the non-blocking `fd`, riding out EAGAIN and EINTR at most
    /// `attempts` times: each waits for POLLOUT up to 10 ms, then sleeps 10 ms (a virtio-serial
    /// port reports POLLHUP at once while no host is connected, so poll alone cannot wait).
    /// Returns nil when everything was written, else the errno of the failure.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], attempts: Int) -> Int32? {
        var offset = 0
        var failed = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return Glibc.write(fd, base + offset, raw.count - offset)
            }
            if n > 0 {
                offset += n
                continue
            }
            let code = n < 0 ? errno : EIO
            failed += 1
            guard failed <= attempts, code == EAGAIN || code == EINTR else { return code }
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            if poll(&entry, 1, 10) == 1, entry.revents & Int16(POLLOUT) != 0 { continue }
            usleep(10_000)
        }
        return nil
    }

    public static func makeDirectory(_ path: String, mode: mode_t = 0o755) -> Bool {
        mkdir(path, mode) == 0 || errno == EEXIST
    }

    /// The names in a directory, without `.` and `..`, in no particular order; nil if it cannot
    /// be opened (missing, say).
    public static func entries(_ directory: String) -> [String]? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
