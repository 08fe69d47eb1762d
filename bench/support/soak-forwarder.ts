import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';

/**
 * A stable address for a server whose port may change: every connection to it is piped to
 * `target()` as it is at that moment, what a compose service name or a Kubernetes Service gives
 * the workers in a deployment. The soak needs it because the OpenCode server's supervisor starts
 * a killed server again on another port when the old one is still held (a process of the killed
 * tree that kept the listening socket), and the workers know only the address they started with.
 * A connection whose target goes away is closed, as it would be without the forwarder.
 */
export class TcpForwarder {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly target: () => { host: string; port: number }) {}

  async listen(host = '127.0.0.1'): Promise<number> {
    const server = createServer((client) => this.forward(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private forward(client: Socket): void {
    const { host, port } = this.target();
    const upstream = connect({ host, port });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }
}
