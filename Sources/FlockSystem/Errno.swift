#if canImport(Glibc)
    import Glibc
#endif

/// The message for a system call's error number (`errno` by default), for errors that name what failed.
public func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
