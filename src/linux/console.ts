// process.terminal with --console-socket (see issue: drop-in runtime).
export interface ConsoleHandle {
  attach(): void;
}

export function setupConsole(_socket: string | undefined, _rootfs: string): ConsoleHandle {
  throw new Error('process.terminal is not supported by this build of toyrun yet');
}
