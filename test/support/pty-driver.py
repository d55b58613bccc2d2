# Runs a command on a pseudo-terminal, as if typed in a terminal window: the command's
# stdin, stdout and stderr are the pty's slave side and it is the foreground process group,
# so a Ctrl-C byte (0x03) written to the master raises SIGINT through the line discipline
# unless the program has put the terminal in raw mode (then it reads the byte itself).
# Bytes on our stdin go to the terminal; the terminal's output comes out on our stdout.
# Our exit status is the command's (128 + N when signal N ended it).
# Usage: python3 pty-driver.py COLS ROWS -- COMMAND [ARG...]
import fcntl, os, pty, select, signal, struct, sys, termios

cols, rows = int(sys.argv[1]), int(sys.argv[2])
argv = sys.argv[4:]
pid, master = pty.fork()
if pid == 0:
    fcntl.ioctl(sys.stdout.fileno(), termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)

# A driver killed by the test takes its command along.
def stop(signum, frame):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os._exit(128 + signum)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGHUP, stop)

stdin_open = True
while True:
    fds = [master] + ([0] if stdin_open else [])
    ready, _, _ = select.select(fds, [], [])
    if 0 in ready:
        data = os.read(0, 4096)
        if data:
            os.write(master, data)
        else:
            stdin_open = False
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every holder of the slave side has closed it
            data = b''
        if not data:
            break
        os.write(1, data)

_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
