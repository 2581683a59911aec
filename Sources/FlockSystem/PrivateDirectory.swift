import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Creates `path` and its parents mode 0700, and sets 0700 on it if it already existed: a driver's
/// state root holds guest memory and snapshots, which no other user may read, whatever made the
/// directory before.
public func createPrivateDirectory(_ path: String) throws {
    try FileManager.default.createDirectory(
        atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    guard chmod(path, 0o700) == 0 else {
        throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
    }
}
