#if canImport(Glibc)
    import Glibc
#endif

/// What is wrong with a private key file for ssh (`-i`), or nil: it must be a regular file that
/// group and others cannot read, as ssh itself insists. Said as the end of a sentence that names
/// the key ("the SSH key PATH for HOST …"), so that flockd's config check and a host session's
/// start-up report it alike.
public func privateKeyFileProblem(_ path: String) -> String? {
    var info = stat()
    guard stat(path, &info) == 0 else { return "does not exist (\(errnoText()))" }
    guard info.st_mode & S_IFMT == S_IFREG else { return "is not a regular file" }
    guard info.st_mode & 0o077 == 0 else {
        return "has mode \(String(info.st_mode & 0o777, radix: 8)); it must be 0600 (chmod 600 \(path))"
    }
    return nil
}
