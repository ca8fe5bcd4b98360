namespace ClusterDns.Server.Pipeline;

/// <summary>
/// A plugin whose answers for some zones follow live data (kubernetes). Its version changes whenever that data
/// changes, so a cache in the same block can drop entries for those zones the moment they could be stale.
/// </summary>
public interface IZoneDataVersion
{
    /// <summary>The zones the data covers, lower-case with a trailing dot.</summary>
    IReadOnlyList<string> Zones { get; }

    /// <summary>Increases on every change that could alter an answer under <see cref="Zones"/>.</summary>
    long Version { get; }
}
