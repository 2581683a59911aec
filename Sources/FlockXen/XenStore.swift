import CXenLight
import Foundation

extension XenContext.Handles {
    /// The value at `path`, or nil when it does not exist (or cannot be read).
    func read(_ path: String) -> Data? {
        var length: UInt32 = 0
        guard let value = xs_read(xs, xs_transaction_t(XBT_NULL), path, &length) else { return nil }
        defer { free(value) }
        return Data(bytes: value, count: Int(length))
    }

    /// Writes `value` at `path`, then makes dom0 its owner with no access for other domains
    /// except read access for `readers` (xenstore's first permission entry is the owner's and
    /// doubles as the default for everyone else).
    func write(_ path: String, _ value: Data, readers: [UInt32]) throws(XenError) {
        let written = value.withUnsafeBytes { bytes in
            xs_write(xs, xs_transaction_t(XBT_NULL), path, bytes.baseAddress, UInt32(bytes.count))
        }
        guard written else { throw .xenstore("write", path: path, errno: errno) }
        var permissions =
            [xs_permissions(id: 0, perms: UInt32(XS_PERM_NONE))]
            + readers.map { xs_permissions(id: $0, perms: UInt32(XS_PERM_READ)) }
        guard xs_set_permissions(xs, xs_transaction_t(XBT_NULL), path, &permissions, UInt32(permissions.count)) else {
            throw .xenstore("set_permissions", path: path, errno: errno)
        }
    }
}
