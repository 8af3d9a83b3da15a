import { EntitySchema } from 'typeorm';
import type { User } from '../domain/user';

export const UserEntity = new EntitySchema<User>({
  name: 'User',
  tableName: 'users',
  columns: {
    id: { type: 'char', length: 36, primary: true },
    emailIndex: { name: 'email_index', type: 'char', length: 64, unique: true },
    personalData: { name: 'personal_data', type: 'text' },
    passwordHash: { name: 'password_hash', type: 'varchar', length: 255 },
    role: { type: 'enum', enum: ['customer', 'admin'], default: 'customer' },
    verifiedAt: { name: 'verified_at', type: 'datetime', precision: 3, nullable: true },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3, createDate: true },
  },
});
