namespace ClusterDns.Server.Pipeline;

/// <summary>
/// A plugin that knows the search path of the client asking (kubernetes: the namespace of the Pod behind the client
/// address). <c>autopath @NAME</c> asks it for every query, so the lookup must take no lock.
/// </summary>
public interface IAutoPathProvider
{
    string Name { get; }

    /// <summary>Why this plugin cannot give search paths as configured (a setup error for autopath), or null.</summary>
    string? AutoPathUnavailableReason { get; }

    /// <summary>
    /// The client's search domains for <paramref name="request"/>, first element first, each a lower-case wire name;
    /// null when the client is not known (autopath then leaves the query alone).
    /// </summary>
    byte[][]? SearchPathFor(DnsRequestContext request);
}

/// <summary>
/// A plugin whose answer to a name depends on who asks (autopath). A cache ahead of it in the chain keys those
/// answers apart, so one client's answer is never served to a client that would have got another.
/// </summary>
public interface IClientDependentAnswers
{
    /// <summary>Whether this plugin would answer <paramref name="request"/> differently than for an unknown client.</summary>
    bool DependsOnClient(DnsRequestContext request);
}
