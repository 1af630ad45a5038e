// The state React keeps for useChat, kept in plain arrays instead: what AbstractChat needs.
export class MemoryState {
  messages = [];
  status = 'ready';
  error = undefined;
  pushMessage = (message) => { this.messages = [...this.messages, message]; };
  popMessage = () => { this.messages = this.messages.slice(0, -1); };
  replaceMessage = (index, message) => { this.messages = this.messages.map((m, i) => (i === index ? message : m)); };
  snapshot = (value) => structuredClone(value);
}
