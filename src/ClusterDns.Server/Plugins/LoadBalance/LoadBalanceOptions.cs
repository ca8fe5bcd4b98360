using ClusterDns.Server.Corefile;

namespace ClusterDns.Server.Plugins.LoadBalance;

public enum LoadBalancePolicy { RoundRobin, Weighted }

/// <summary>A loadbalance line, parsed once: <c>loadbalance [round_robin | weighted WEIGHTFILE] { reload DURATION }</c>.</summary>
public sealed record LoadBalanceOptions
{
    public LoadBalancePolicy Policy { get; init; }
    /// <summary>The weight file (weighted), relative paths taken from the working directory as CoreDNS's root default.</summary>
    public string? WeightFile { get; init; }
    /// <summary>How often the weight file is checked for changes; zero: never.</summary>
    public TimeSpan Reload { get; init; } = TimeSpan.FromSeconds(30);

    public static LoadBalanceOptions Parse(Directive directive)
    {
        directive.ExpectArgumentCount(0, 2);
        var args = directive.Arguments;
        var options = new LoadBalanceOptions();
        var policy = args.Count == 0 ? "round_robin" : args[0].Text;
        switch (policy)
        {
            case "round_robin":
                if (args.Count > 1) throw directive.Error($"round_robin takes no argument, found '{args[1].Text}'");
                directive.ExpectNoBlock();
                return options;
            case "weighted":
                if (args.Count < 2) throw directive.Error("weighted needs a WEIGHTFILE");
                options = options with { Policy = LoadBalancePolicy.Weighted, WeightFile = Path.GetFullPath(args[1].Text) };
                break;
            default:
                throw directive.Error($"unknown policy '{policy}' (round_robin or weighted)");
        }
        foreach (var property in directive.Block)
        {
            switch (property.Name)
            {
                case "reload":
                    property.ExpectArgumentCount(1, 1);
                    var reload = property.ParseDuration(property.Arguments[0]);
                    if (reload < TimeSpan.Zero) throw property.Error($"invalid reload duration '{property.Arguments[0].Text}'");
                    options = options with { Reload = reload };
                    break;
                default:
                    throw property.UnknownProperty(LoadBalancePlugin.PluginName);
            }
        }
        return options;
    }
}
