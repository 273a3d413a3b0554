// WASI preview1 imports used by the examples. AssemblyScript imports a
// declared function from the module named after its file, so this file's
// name is the import module: no decorators needed.
export declare function fd_read (fd: u32, iovs: usize, iovsLen: usize, nread: usize): u16
export declare function fd_write (fd: u32, iovs: usize, iovsLen: usize, nwritten: usize): u16
export declare function proc_exit (code: u32): void
