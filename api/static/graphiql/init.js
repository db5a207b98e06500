// GraphiQL for DHR Graph, from the assets this binary serves (no CDN): queries and mutations
// over POST /graphql, subscriptions over the graphql-transport-ws socket at /graphql/ws.
// A query can be given in the address's fragment: /graphql#query=<url-encoded document>.
(function () {
  var origin = window.location.origin;
  var socket = origin.replace(/^http/, 'ws') + '/graphql/ws';
  var key = null;
  try { key = window.localStorage.getItem('dhr-graph-key'); } catch (e) { key = null; }
  var headers = key ? { Authorization: 'Bearer ' + key } : {};
  var fetcher = GraphiQL.createFetcher({
    url: origin + '/graphql',
    subscriptionUrl: socket,
    headers: headers,
    wsConnectionParams: key ? { Authorization: 'Bearer ' + key } : {},
  });
  var fragment = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  var props = { fetcher: fetcher, defaultEditorToolsVisibility: true };
  if (fragment.get('query')) props.query = fragment.get('query');
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, props));
})();
