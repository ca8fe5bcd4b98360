using ClusterDns;

return await ServerCommand.RunAsync(args).ConfigureAwait(false);
