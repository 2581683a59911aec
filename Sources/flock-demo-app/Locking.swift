import Glibc

/// A pthread mutex. The app is threads-and-blocking-sockets on purpose (no Foundation, no
/// async runtime in a tiny static guest binary), so shared state is guarded the classic way.
final class Mutex: @unchecked Sendable {
    private let handle: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        handle = .allocate(capacity: 1)
        pthread_mutex_init(handle, nil)
    }

    deinit {
        pthread_mutex_destroy(handle)
        handle.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(handle)
        defer { pthread_mutex_unlock(handle) }
        return try body()
    }

    fileprivate var raw: UnsafeMutablePointer<pthread_mutex_t> { handle }
}

/// Caps concurrent connections: the accept loop takes a slot before accepting and each
/// connection thread returns it. When all slots are busy, new clients wait in the kernel's
/// listen backlog instead of making the app spawn unbounded threads.
final class Slots: @unchecked Sendable {
    private let mutex = Mutex()
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var free: Int

    init(_ count: Int) {
        free = count
        condition = .allocate(capacity: 1)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
    }

    func acquire() {
        mutex.withLock {
            while free == 0 { pthread_cond_wait(condition, mutex.raw) }
            free -= 1
        }
    }

    func release() {
        mutex.withLock {
            free += 1
            pthread_cond_signal(condition)
        }
    }
}

/// Starts a detached thread with a small stack; returns false if the system refused.
func startThread(stackBytes: Int = 256 * 1024, _ body: @escaping () -> Void) -> Bool {
    final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, stackBytes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, &attributes,
        { raw in
            guard let raw else { return nil }
            let box = Unmanaged<AnyObject>.fromOpaque(raw).takeRetainedValue()
            (box as? Box)?.body()
            return nil
        }, box)
    if rc != 0 {
        Unmanaged<AnyObject>.fromOpaque(box).release()
        return false
    }
    return true
}
