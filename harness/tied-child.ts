import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import path from 'node:path'

/** A server or load process a test or bench started, tied to it: it does not outlive the process that started it. */
export interface TiedChild {
  child: ChildProcess
  exited: Promise<unknown>
  running: () => boolean
  /** Sends `signal` (if it still runs) and resolves once it has exited. */
  stop: (signal?: NodeJS.Signals) => Promise<void>
}

/**
 * On Linux, `setpriv --pdeathsig KILL` (util-linux) asks the kernel to kill the command when the process that started
 * it dies, then runs the command in its own place (same pid). That covers the deaths that run no exit handler: a
 * SIGKILL, or a test runner's timeout, which would otherwise leave servers running on their ports.
 */
const setpriv = process.platform === 'linux'
  ? (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'setpriv')).find((file) => existsSync(file))
  : undefined

export function spawnTied (command: string, args: string[], options: SpawnOptions = {}): TiedChild {
  const child = setpriv === undefined
    ? spawn(command, args, options)
    : spawn(setpriv, ['--pdeathsig', 'KILL', command, ...args], options)
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  const exited = once(child, 'exit')
  const running = () => child.exitCode === null && child.signalCode === null
  return {
    child,
    exited,
    running,
    async stop (signal = 'SIGKILL') {
      process.off('exit', killOnExit)
      if (running()) child.kill(signal)
      await exited
    }
  }
}
