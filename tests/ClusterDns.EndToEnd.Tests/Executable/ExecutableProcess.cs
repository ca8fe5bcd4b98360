using System.Net;
using System.Net.Sockets;
using ClusterDns.Tests.Infrastructure;

namespace ClusterDns.EndToEnd.Tests.Executable;

/// <summary>Waiting on a ClusterDns.dll process the test started.</summary>
internal static class ExecutableProcess
{
    /// <summary>Queries until the freshly started process answers (it needs a moment to bind), or gives null.</summary>
    public static async Task<Makaretu.Dns.Message?> QueryUntilAnsweredAsync(IPEndPoint server, string name)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            try
            {
                return await DnsTestClient.QueryAsync(server, name);
            }
            catch (Exception exception) when (exception is TimeoutException or SocketException)
            {
                await Task.Delay(200);
            }
        }
        return null;
    }
}
